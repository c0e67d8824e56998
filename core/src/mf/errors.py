"""The exceptions mf raises. Each message names what is wrong and what to do."""


class MFError(Exception):
    """Base class of mf's errors."""


class UnknownNameError(MFError, KeyError):
    """A preset, model type, task or method that nothing registered."""

    def __str__(self):  # KeyError would otherwise quote the message
        return str(self.args[0]) if self.args else ""


class PluginConflictError(MFError):
    """Two distributions registered the same name."""


class ConfigError(MFError, ValueError):
    """A configuration field has a wrong type or value."""


class WeightsError(MFError, ValueError):
    """A weights file is missing, truncated, or does not fit the model."""


class WeightsNotFoundError(WeightsError, FileNotFoundError):
    """A preset or directory has no weights."""


class TokenizerError(MFError, ValueError):
    """A tokenizer file or input is unusable."""
