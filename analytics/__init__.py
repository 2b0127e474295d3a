"""Pure numpy/scipy detectors over readings: rules, quality, baselines, adherence."""
