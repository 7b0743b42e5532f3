"""The `dialer` command: admin verbs, `run`, `demo`, `pbx-sim`, `pacing`."""
