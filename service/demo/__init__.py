"""`linli demo`: a demo district seeded once, and the whole service running on it with
emulated homes whose readings travel the real path."""
