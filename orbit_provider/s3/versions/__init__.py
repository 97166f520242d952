"""Object versions: bucket versioning status, version listings in history order, restores,
comparisons and prefix rollbacks."""
