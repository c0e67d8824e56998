"""BitFit (Ben Zaken et al. 2021): train only the bias terms. A second PET method that shows
the PET hook is general: it registers exactly as LoRA does."""
from .lora import PETError


def apply_bitfit(model, **options):
    """Freeze every parameter but the biases, in place."""
    if options:
        raise PETError(f"bitfit takes no options, got {', '.join(sorted(options))}")
    biases = 0
    for name, param in model.parameters_and_names():
        param.requires_grad = name.endswith(".bias")
        biases += param.requires_grad
    if not biases:
        raise PETError(f"{type(model).__name__} has no bias parameters to tune")
    model.__dict__["_mf_pet"] = {"method": "bitfit", "config": None}
    return model
