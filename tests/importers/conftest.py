"""The fixture labs are other tools' files, not tests."""

collect_ignore_glob = ["labs/*"]
