"""Pure numpy/scipy detectors over readings: rules, quality, baselines, adherence; and
`analytics.synthetic`, a synthetic cohort of residents measuring at home (benchmarks, demo)."""
