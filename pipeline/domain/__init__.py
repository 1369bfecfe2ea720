"""Pure metric logic of METRICS.md: days, activity, plan, adoption, status, forecast, roll-ups, privacy."""
