"""The discharge pipeline service: a thin FastStream handler around ``core.process``."""
