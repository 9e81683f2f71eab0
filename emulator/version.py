"""The emulator's version, in one place: the package metadata, `/_emulator/health`, reports."""

VERSION = "0.1.0"
