"""The mf plugin contract.

A plugin is a module named by an entry point in the group ``mf.plugins`` that
implements some of these hooks with ``@mf.hookimpl``. Registration hooks receive
the one :class:`mf.registry.Registry`; lifecycle hooks are called by the Trainer.
"""
import pluggy

hookspec = pluggy.HookspecMarker("mf")
hookimpl = pluggy.HookimplMarker("mf")


@hookspec
def mf_register_models(registry):
    """Register model families (config, model classes, tokenizer, processor,
    weight converter, sharding plan) and their presets."""


@hookspec
def mf_register_tasks(registry):
    """Register tasks: name -> pipeline class, default model, metrics."""


@hookspec
def mf_register_pet_methods(registry):
    """Register parameter-efficient tuning methods ("lora", ...)."""


@hookspec
def mf_register_datasets(registry):
    """Register dataset formats (how a path is recognised and read)."""


@hookspec
def mf_register_commands(cli):
    """Add sub-commands to the ``mf`` command line."""


@hookspec
def mf_on_train_begin(trainer):
    """Training is about to start."""


@hookspec
def mf_on_step_end(trainer, state):
    """A training step finished; set ``state.should_stop = True`` to stop."""


@hookspec
def mf_on_evaluate(trainer, metrics):
    """An evaluation finished with these metrics."""


@hookspec
def mf_on_save(trainer, checkpoint_dir):
    """A checkpoint was written to checkpoint_dir."""
