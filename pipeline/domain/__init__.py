"""Pure metric logic of docs/metrics.md: days, activity, plan, adoption, status, forecast, roll-ups, privacy."""
