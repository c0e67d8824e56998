"""Transformer blocks every family writes the same way, with the family's own sub-layer names."""
from mindspore import nn


class PreNormBlock(nn.Cell):
    """x + attention(norm_1(x), *inputs), then x + mlp(norm_2(x)) (GPT-2, LLaMA and most decoders).

    A subclass names its four sub-layers in `sublayers` (norm_1, attention, norm_2, mlp order; they
    are the checkpoint's parameter names) and passes the cells to __init__. `inputs` is what
    DecoderModel passes on: block_inputs, the mask bias and, when decoding, the cache arguments.
    """

    sublayers = ("attention_norm", "attention", "mlp_norm", "mlp")

    def __init__(self, norm_1, attention, norm_2, mlp):
        super().__init__()
        for name, cell in zip(self.sublayers, (norm_1, attention, norm_2, mlp)):
            setattr(self, name, cell)

    def construct(self, x, *inputs):
        norm_1, attention, norm_2, mlp = self.sublayers
        x = x + getattr(self, attention)(getattr(self, norm_1)(x), *inputs)
        return x + getattr(self, mlp)(getattr(self, norm_2)(x))
