"""How Linli drives Debian's chromium, for the page tests and for the README's screenshots
(`docs/screenshots.py`): never a downloaded browser."""

# Run as root on a closed network: no sandbox, no GPU, and none of Chromium's own calls home.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
