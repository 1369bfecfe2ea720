"""Importers that turn telemetry people already run (ActivityWatch, WhatPulse, osquery) into usage events."""
