// Turn a DatasetSpec back into a data set (in a worker thread).

import { ArrayDataset, SubsetDataset, type Dataset, type DatasetSpec } from './dataset.js';
import { ImageFolder } from './folder.js';

export function openDatasetSpec(spec: DatasetSpec): Dataset {
  switch (spec.kind) {
    case 'array':
      return new ArrayDataset({
        name: spec.name,
        pixels: new Uint8Array(spec.pixels, 0, spec.count * spec.width * spec.height * spec.channels),
        labels: new Int32Array(spec.labels, 0, spec.count),
        width: spec.width,
        height: spec.height,
        channels: spec.channels,
        numClasses: spec.numClasses,
      });
    case 'folder':
      return ImageFolder.fromSpec(spec);
    case 'subset':
      return new SubsetDataset(openDatasetSpec(spec.base), new Int32Array(spec.indices));
    default:
      throw new Error(`unknown data set kind '${(spec as { kind: string }).kind}'`);
  }
}
