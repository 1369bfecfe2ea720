"""The endpoint agent: samples the foreground application and idle state, spools events, uploads them."""
