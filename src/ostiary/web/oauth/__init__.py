"""web/oauth."""
