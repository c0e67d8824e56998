"""Parameter-efficient tuning. Methods register through mf_register_pet_methods;
core registers LoRA and BitFit the same way a plugin would."""
from ..errors import UnknownNameError
from .bitfit import apply_bitfit
from .lora import (LoraConfig, LoraLinear, PETError, apply_lora, load_adapter, merge_and_unload, save_adapter)


def apply_pet(model, method: str, **options):
    """Apply the registered PET method `method` to model, in place; returns the model."""
    from ..plugins import get_registry

    factory = get_registry().pet_methods.get(method)
    if factory is None:
        raise UnknownNameError(f"unknown PET method '{method}'; installed: "
                               f"{', '.join(get_registry().pet_methods.names()) or 'none'}")
    return factory(model, **options)


__all__ = ["LoraConfig", "LoraLinear", "PETError", "apply_bitfit", "apply_lora", "apply_pet", "load_adapter",
           "merge_and_unload", "save_adapter"]
