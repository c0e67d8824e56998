"""Parameter-efficient tuning: methods register through mf_register_pet_methods."""
from ..errors import UnknownNameError


def apply_pet(model, method: str, **options):
    """Wrap model in place with the registered PET method `method`; returns what the method returns."""
    from ..plugins import get_registry

    factory = get_registry().pet_methods.get(method)
    if factory is None:
        raise UnknownNameError(f"unknown PET method '{method}'; installed: "
                               f"{', '.join(get_registry().pet_methods.names()) or 'none'}")
    return factory(model, **options)
