// Weights and checkpoint I/O, host side only: plain Float32Arrays with shapes (the model layer
// converts to and from GPU tensors).

export {
  f16ToF32, f32ToF16, bf16ToF32, f32ToBf16,
  f16ArrayToF32, f32ArrayToF16, bf16ArrayToF32, f32ArrayToBf16,
  f16ToF32Bits, f32BitsToF16, bf16ToF32Bits, f32BitsToBf16, f32Bits, f32FromBits,
} from './half.js';
export {
  readSafetensors, readSafetensorsHeader, writeSafetensors, tempPathFor, shapeNumel,
  SafetensorsError, DTYPE_SIZES, MAX_HEADER_BYTES,
  type HeaderEntry, type SafetensorsHeader, type LoadedTensor, type SafetensorsFile, type ReadOptions,
  type WriteTensor, type WriteInput, type WriteDtype,
} from './safetensors.js';
export {
  remapKeys, remapName, matchStateDict, matchesPattern, loadForModel, StateDictError,
  type StateEntry, type StateDict, type ExpectedEntry, type KeyPattern, type RemapOptions, type MatchOptions,
  type MatchResult, type LoadOptions,
} from './state_dict.js';
export {
  saveCheckpoint, loadCheckpoint, exportWeights, CHECKPOINT_FORMAT,
  type Checkpoint, type ExportOptions,
} from './checkpoint.js';
