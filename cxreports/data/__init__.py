"""Sources -> validated tables: the data contract, loading, validation, the
roster's effective dating, run snapshots and the sample generator."""
