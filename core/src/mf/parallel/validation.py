"""Checks of a parallel configuration against the launched processes, the model and the batch,
run before any work starts; each error names the rule and the number to change."""
from .distributed import ParallelError


def validate_parallel(parallel, world: int, config=None, plan=None, batch_size: int = None,
                      accumulation: int = 1):
    """Raise ParallelError for the first rule `parallel` (a ParallelConfig) breaks; batch_size is the
    per-rank batch, accumulation the gradient accumulation steps."""
    dp, mp, pp, micro = parallel.data_parallel, parallel.model_parallel, parallel.pipeline_stage, \
        parallel.micro_batch_num
    if dp * mp * pp != world:
        raise ParallelError(
            f"data_parallel ({dp}) x model_parallel ({mp}) x pipeline_stage ({pp}) = {dp * mp * pp}, but "
            f"{world} processes are running; make the product {world}, or launch {dp * mp * pp} processes")
    if parallel.optimizer_shard and dp == 1:
        raise ParallelError("optimizer_shard splits optimizer state across data-parallel ranks, and "
                            "data_parallel is 1; raise data_parallel or turn optimizer_shard off")
    if batch_size is not None and batch_size % micro:
        raise ParallelError(f"the global batch ({batch_size} x data_parallel {dp} = {batch_size * dp}) must be "
                            f"divisible by data_parallel x micro_batch_num ({dp} x {micro}); change the batch "
                            f"size to a multiple of {micro} or micro_batch_num to a divisor of {batch_size}")
    if pp > 1 and batch_size is not None and batch_size < micro:
        raise ParallelError(f"micro_batch_num ({micro}) exceeds the per-rank batch ({batch_size}); lower it")
    if micro > 1 and pp == 1:
        raise ParallelError(f"micro_batch_num={micro} only applies to pipeline parallelism (pipeline_stage > 1); "
                            f"use gradient_accumulation_steps for micro-batches without a pipeline")
    if pp > 1 and mp > 1:
        raise ParallelError("pipeline_stage > 1 together with model_parallel > 1 is not supported by mf yet; "
                            "use one of them (each combines with data_parallel)")
    if pp > 1 and (accumulation > 1 or parallel.optimizer_shard):
        raise ParallelError("with pipeline_stage > 1 use micro_batch_num instead of gradient_accumulation_steps, "
                            "and no optimizer_shard")
    if config is not None:
        layers = getattr(config, "num_layers", None)
        if layers is not None and pp > layers:
            raise ParallelError(f"pipeline_stage ({pp}) is larger than the model's {layers} layers; "
                                f"use at most {layers} stages")
        if mp > 1:
            if plan is None:
                raise ParallelError(f"model type '{config.model_type}' declares no sharding plan, so it cannot be "
                                    f"split over model_parallel={mp}; use model_parallel=1")
            from .tensor_parallel import check_divisible

            check_divisible(config, plan, mp)
