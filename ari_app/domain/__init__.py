"""Pure rules, no I/O. Everything here takes ``now`` as an argument."""
