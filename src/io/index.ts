// Weights and checkpoint I/O, host side only: plain Float32Arrays with shapes (the model layer
// converts to and from GPU tensors).

export {
  f16ToF32, f32ToF16, bf16ToF32, f32ToBf16,
  f16ArrayToF32, f32ArrayToF16, bf16ArrayToF32, f32ArrayToBf16,
  f16ToF32Bits, f32BitsToF16, bf16ToF32Bits, f32BitsToBf16, f32Bits, f32FromBits,
} from './half.js';
export {
  readSafetensors, readSafetensorsHeader, openSafetensors, writeSafetensors, tempPathFor, shapeNumel,
  SafetensorsError, DTYPE_SIZES, MAX_HEADER_BYTES,
  type HeaderEntry, type SafetensorsHeader, type LoadedTensor, type SafetensorsFile, type ReadOptions,
  type WriteTensor, type WriteInput, type WriteDtype, type SafetensorsReader,
} from './safetensors.js';
export {
  remapKeys, remapName, matchStateDict, matchesPattern, loadForModel, StateDictError, isCounterKey,
  type StateEntry, type StateDict, type ExpectedEntry, type KeyPattern, type RemapOptions, type MatchOptions,
  type MatchResult, type LoadOptions,
} from './state_dict.js';
export {
  saveCheckpoint, loadCheckpoint, exportWeights, CHECKPOINT_FORMAT, NonFiniteWeightsError, F16_MAX,
  type Checkpoint, type ExportOptions,
} from './checkpoint.js';
export {
  openWeightFile, readForModel, findPrefix, guessPrefix, describeLayout, closest, WeightFileError,
  type WeightFile, type WeightTensor, type OpenOptions, type LoadRules, type LoadReport, type Layout,
} from './weights_file.js';
export { openTorchFile, sniffTorchFile, TorchTensor, TorchFileError, FLOAT_DTYPES, type TorchFile, type StorageRef } from './torch_file.js';
export { unpickle, PickleError, PyObject, type UnpickleOptions } from './pickle.js';
