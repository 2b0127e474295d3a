"""Code that runs on the home gateway: Bluetooth codecs and procedures, outbox, uploader."""
