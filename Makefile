.PHONY: run test check bench
run:
	scripts/run
test:
	scripts/test
check:
	scripts/check
bench:
	scripts/bootstrap-venv --test && .venv/bin/python bench/run.py
