"""`linli analyze`: replay detection over CSV files on a simulated clock, without a database.

The readings are sorted by resident and time in bounded memory (sorted runs on disk, merged),
partitioned over worker processes by resident, and each resident's readings are replayed
through `analytics.replay.replay_resident`.
"""
