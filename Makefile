.PHONY: run test check bench
run:
	scripts/run
test:
	scripts/test
check:
	scripts/check
bench:
	scripts/bench $(BENCH_ARGS)
