// The barrel must expose every twin under the names other layers call.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as ref from '../../src/ref/index.js';

const NAMES = [
  'matmul', 'linearFwd', 'linearBwd',
  'convOut', 'conv2dFwd', 'conv2dBwdData', 'conv2dBwdWeight', 'conv2dBwdBias',
  'bnFwdTrain', 'bnRunningUpdate', 'bnFwdEval', 'bnBwdTrain', 'bnBwdEval',
  'reluFwd', 'reluBwd', 'relu6Fwd', 'relu6Bwd', 'sigmoidFwd', 'sigmoidBwd', 'siluFwd', 'siluBwd',
  'add', 'scaleFwd', 'mulFwd', 'mulBwd', 'channelScaleFwd', 'channelScaleBwd', 'dropoutFwd', 'dropoutBwd',
  'globalAvgPoolFwd', 'globalAvgPoolBwd', 'maxPool2dFwd', 'maxPool2dBwd',
  'l2NormalizeFwd', 'l2NormalizeBwd',
  'mseFwd', 'mseBwd', 'cosineRegressionFwd', 'cosineRegressionBwd', 'crossEntropyFwd', 'crossEntropyBwd',
  'sumAxes', 'meanAxes', 'sumAxesBwd', 'meanAxesBwd',
  'sgdStep',
];

test('src/ref/index re-exports every twin', () => {
  const table = ref as unknown as Record<string, unknown>;
  const missing = NAMES.filter((n) => typeof table[n] !== 'function');
  assert.equal(missing, []);
});

test.run();
