"""CLIP (Radford et al. 2021) in MindSpore, with Hugging Face's parameter names.

Two towers map a caption and an image into one space. The text tower is a causal transformer over CLIP BPE
ids with learnt positions; its output at the end-of-text token is the caption's vector. The image tower is a
ViT whose [CLS] state, after a final LayerNorm, is the image's vector (a LayerNorm also sits before its
blocks). Both are projected without bias to projection_dim; logits are the cosine similarities times
exp(logit_scale). Blocks are pre-norm with quick-GELU MLPs (OpenAI's). The contrastive loss is the mean of
the cross entropies over images and over captions, each matching pair the target (core's
mf.nn.contrastive_loss, which the Trainer also uses across data-parallel ranks).
"""
import math

import numpy as np
import mindspore as ms
from mindspore import Parameter, Tensor, nn, ops
from mindspore.common.initializer import Normal, initializer

from mf.modeling import PreTrainedModel
from mf.nn import (DotProductAttention, Dropout, Embedding, LayerNorm, Linear, causal_mask_bias, contrastive_loss,
                   can_join, joint_linear, normalize, padding_mask_bias)

from .configuration import CLIPConfig, CLIPTextConfig, CLIPVisionConfig
from .layers import MLP, ProjectionWeights, project_patches, resize_position_grid


class CLIPAttention(nn.Cell):
    def __init__(self, config):
        super().__init__()
        self.num_heads = config.num_attention_heads
        self.head_dim = config.hidden_size // config.num_attention_heads
        h, std = config.hidden_size, config.initializer_range
        self.q_proj = Linear(h, h, init_std=std)
        self.k_proj = Linear(h, h, init_std=std)
        self.v_proj = Linear(h, h, init_std=std)
        self.out_proj = Linear(h, h, init_std=std)
        self.attend = DotProductAttention(1.0 / math.sqrt(self.head_dim), Dropout(config.attention_dropout))

    def construct(self, x, bias):
        batch, length, _ = x.shape
        shape = (batch, length, self.num_heads, self.head_dim)
        projections = (self.q_proj, self.k_proj, self.v_proj)
        if self.training and can_join(projections):  # one product, read in place by the attention kernel
            qkv = joint_linear(x, projections).reshape(batch, length, 3, self.num_heads, self.head_dim)
            return self.out_proj(self.attend.packed(qkv, bias))
        out = self.attend(self.q_proj(x).reshape(shape), self.k_proj(x).reshape(shape),
                          self.v_proj(x).reshape(shape), bias)
        return self.out_proj(out)


class CLIPEncoderLayer(nn.Cell):
    """x + attention(LN(x)), then + MLP(LN(.))."""

    def __init__(self, config):
        super().__init__()
        self.layer_norm1 = LayerNorm(config.hidden_size, config.layer_norm_eps)
        self.self_attn = CLIPAttention(config)
        self.layer_norm2 = LayerNorm(config.hidden_size, config.layer_norm_eps)
        self.mlp = MLP(config)

    def construct(self, x, bias):
        x = x + self.self_attn(self.layer_norm1(x), bias)
        return x + self.mlp(self.layer_norm2(x))


class CLIPEncoder(nn.Cell):
    def __init__(self, config):
        super().__init__()
        self.layers = nn.CellList([CLIPEncoderLayer(config) for _ in range(config.num_hidden_layers)])

    def construct(self, x, bias):
        for layer in self.layers:
            x = layer(x, bias)
        return x


class CLIPTextEmbeddings(nn.Cell):
    def __init__(self, config: CLIPTextConfig):
        super().__init__()
        self.token_embedding = Embedding(config.vocab_size, config.hidden_size, config.initializer_range)
        self.position_embedding = Embedding(config.max_position_embeddings, config.hidden_size,
                                            config.initializer_range)

    def construct(self, input_ids):
        length = input_ids.shape[1]
        return self.token_embedding(input_ids) + self.position_embedding.weight[:length]


class CLIPTextTransformer(nn.Cell):
    """ids [B, T] (+ mask) -> (states [B, T, H], pooled [B, H]): the final LayerNorm's output at each caption's
    end-of-text token. The token is the first `eos_token_id` of the row; configs of the original OpenAI
    checkpoints say eos_token_id 2, which means the row's largest id (<|endoftext|>, 49407), as
    transformers reads them."""

    def __init__(self, config: CLIPTextConfig):
        super().__init__()
        self.config = config
        self.embeddings = CLIPTextEmbeddings(config)
        self.encoder = CLIPEncoder(config)
        self.final_layer_norm = LayerNorm(config.hidden_size, config.layer_norm_eps)
        self.causal = causal_mask_bias(config.max_position_embeddings)
        self.eos_token_id = config.eos_token_id

    def construct(self, input_ids, attention_mask=None):
        batch, length = input_ids.shape
        if length > self.config.max_position_embeddings:
            raise ValueError("the captions are longer than the text tower's max_position_embeddings; truncate "
                             "them (CLIPTokenizer(..., truncation=True, max_length=77))")
        bias = self.causal[:, :, :length, :length]
        if attention_mask is not None:
            bias = bias + padding_mask_bias(attention_mask)
        states = self.final_layer_norm(self.encoder(self.embeddings(input_ids), bias))
        ids = input_ids.astype(ms.int32)
        if self.eos_token_id == 2:
            end = ops.argmax(ids, -1)
        else:
            end = ops.argmax((ids == self.eos_token_id).astype(ms.int32), -1)  # the first end-of-text token
        pooled = ops.gather_elements(states, 1, ops.broadcast_to(end.reshape(batch, 1, 1).astype(ms.int32),
                                                                  (batch, 1, states.shape[2])))
        return states, pooled.reshape(batch, -1)


class CLIPVisionEmbeddings(nn.Cell):
    def __init__(self, config: CLIPVisionConfig):
        super().__init__()
        h, std = config.hidden_size, config.initializer_range
        self.patch_size = config.patch_size
        self.class_embedding = Parameter(initializer(Normal(std), (h,), ms.float32), name="class_embedding")
        self.patch_embedding = ProjectionWeights(config.num_channels, h, config.patch_size, std, bias=False)
        self.position_embedding = Embedding(config.num_patches() + 1, h, std)

    def construct(self, pixel_values):
        patches, rows, cols = project_patches(pixel_values, self.patch_embedding, self.patch_size)
        batch, _, width = patches.shape
        cls = ops.broadcast_to(self.class_embedding.reshape(1, 1, width), (batch, 1, width))
        table = self.position_embedding.weight
        grid = resize_position_grid(table[1:], rows, cols)  # other image sizes: bicubic, as transformers'
        positions = ops.concat((table[:1], grid), 0).reshape(1, 1 + rows * cols, width)
        return ops.concat((cls, patches), 1) + positions


class CLIPVisionTransformer(nn.Cell):
    """pixels [B, C, H, W] -> (states [B, 1 + patches, H], pooled [B, H]: the LayerNorm'd [CLS] state)."""

    def __init__(self, config: CLIPVisionConfig):
        super().__init__()
        self.embeddings = CLIPVisionEmbeddings(config)
        self.pre_layrnorm = LayerNorm(config.hidden_size, config.layer_norm_eps)  # sic: the Hub's name
        self.encoder = CLIPEncoder(config)
        self.post_layernorm = LayerNorm(config.hidden_size, config.layer_norm_eps)

    def construct(self, pixel_values):
        x = self.pre_layrnorm(self.embeddings(pixel_values))
        no_mask = ops.zeros((1, 1, 1, x.shape[1]), ms.float32)
        states = self.encoder(x, no_mask)
        return states, self.post_layernorm(states[:, 0])


class CLIPPreTrainedModel(PreTrainedModel):
    config_class = CLIPConfig
    base_model_prefix = "clip"


class CLIPModel(CLIPPreTrainedModel):
    """Both towers and their projections.

    construct(input_ids, pixel_values, attention_mask=None, return_loss=False) -> (logits_per_image
    [B_img, B_txt], logits_per_text [B_txt, B_img]), with the contrastive loss first when return_loss (as many
    captions as images, pair i matching). get_text_features / get_image_features: the projected vectors
    (not normalised), as transformers' methods of those names."""

    def __init__(self, config: CLIPConfig):
        super().__init__(config)
        self.text_model = CLIPTextTransformer(config.text)
        self.vision_model = CLIPVisionTransformer(config.vision)
        self.text_projection = Linear(config.text.hidden_size, config.projection_dim, bias=False,
                                      init_std=config.text.hidden_size ** -0.5)
        self.visual_projection = Linear(config.vision.hidden_size, config.projection_dim, bias=False,
                                        init_std=config.vision.hidden_size ** -0.5)
        self.logit_scale = Parameter(Tensor(np.array(config.logit_scale_init_value, np.float32)), name="logit_scale")

    def get_text_features(self, input_ids, attention_mask=None):
        return self.text_projection(self.text_model(input_ids, attention_mask)[1])

    def get_image_features(self, pixel_values):
        return self.visual_projection(self.vision_model(pixel_values)[1])

    def construct(self, input_ids, pixel_values, attention_mask=None, return_loss=False):
        text = normalize(self.get_text_features(input_ids, attention_mask))
        image = normalize(self.get_image_features(pixel_values))
        logits_per_text = ops.matmul(text, image.T) * ops.exp(self.logit_scale)
        logits_per_image = logits_per_text.T
        if return_loss:
            return contrastive_loss(logits_per_image), logits_per_image, logits_per_text
        return logits_per_image, logits_per_text
