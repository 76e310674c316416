// Model weights in and out as safetensors with torchvision names: strict loading (every key, shape and dtype
// checked from the header before anything is read or copied), prefix stripping for MoCo/SimCLR/BYOL
// checkpoints, and export that PyTorch's load_state_dict accepts.
import { loadForModel, exportWeights, type RemapOptions, type MatchOptions } from '../io/index.js';
import type { Module } from './module.js';

export interface LoadWeightsOptions extends RemapOptions, MatchOptions {}

/** Presets for common self-supervised checkpoints converted to safetensors. */
export const CHECKPOINT_PRESETS: Record<string, LoadWeightsOptions> = {
  // MoCo v1/v2/v3: the query encoder is the backbone; the key encoder, the queue and the projection head are dropped.
  moco: { stripPrefixes: ['module.encoder_q.', 'encoder_q.', 'module.base_encoder.', 'base_encoder.', 'module.'], ignore: [/^fc\./, /^module\.encoder_k\./, /^encoder_k\./, /queue/, /^module\.momentum_encoder\./, /^momentum_encoder\./, /^predictor\./] },
  // SimCLR / BYOL ports usually keep the backbone under one of these prefixes and a projection head beside it.
  simclr: { stripPrefixes: ['module.backbone.', 'backbone.', 'module.encoder.', 'encoder.', 'module.'], ignore: [/^fc\./, /^projector\./, /^projection_head\./, /^head\./] },
  byol: { stripPrefixes: ['module.online_network.encoder.', 'online_network.encoder.', 'module.backbone.', 'backbone.', 'module.'], ignore: [/^fc\./, /^projector\./, /^predictor\./, /^target/, /^online_network\.projector\./] },
};

/** Load weights into `model` (which stays untouched on any error). Backbone-only models need `allowMissing` for none. */
export async function loadWeights(model: Module, path: string, opts: LoadWeightsOptions = {}): Promise<void> {
  const expected = new Map([...model.stateShapes()].map(([k, shape]) => [k, { shape }]));
  const sd = await loadForModel(path, expected, opts);
  model.loadStateDict(sd, { strict: !(opts.allowMissing && opts.allowMissing.length), source: path });
}

export async function saveWeights(model: Module, path: string, metadata: Record<string, string> = {}): Promise<void> {
  await exportWeights(path, await model.stateDict(), metadata);
}
