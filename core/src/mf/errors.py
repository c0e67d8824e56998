"""The exceptions mf raises. Each message names what is wrong and what to do."""


class MFError(Exception):
    """Base class of mf's errors."""


class UnknownNameError(MFError, KeyError):
    """A preset, model type, task or method that nothing registered."""

    def __str__(self):  # KeyError would otherwise quote the message
        return str(self.args[0]) if self.args else ""


class PluginConflictError(MFError):
    """Two distributions registered the same name."""

    def __init__(self, message, kind=None, name=None, first=None, second=None):
        super().__init__(message)
        self.kind, self.name, self.first, self.second = kind, name, first, second


class PluginError(MFError, ImportError):
    """A plugin cannot be used: incompatible PLUGIN_API, or mf used while plugins are loading."""


class ConfigError(MFError, ValueError):
    """A configuration field has a wrong type or value."""


class WeightsError(MFError, ValueError):
    """A weights file is missing, truncated, or does not fit the model."""


class WeightsNotFoundError(WeightsError, FileNotFoundError):
    """A preset or directory has no weights."""


class TokenizerError(MFError, ValueError):
    """A tokenizer file or input is unusable."""


class ImageError(MFError, ValueError):
    """An image (file, array or processor setting) is unusable."""


class PipelineError(MFError, ValueError):
    """A pipeline input or option that cannot be used."""
