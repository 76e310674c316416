// simreg command line. Commands: info (adapter, limits, features). More arrive with the models and the
// distillation loop; this file only parses and prints.
import { initGpu, destroyGpu, gpuContext } from '../gpu/device.js';
import { kernels } from '../gen/kernels.gen.js';

const USAGE = `usage: simreg <command> [options]

commands:
  info      print the WebGPU adapter, its limits and optional features, and the kernels built
  help      this text`;

async function info(): Promise<void> {
  await initGpu();
  const g = gpuContext();
  const i = g.info;
  console.log(`adapter:   ${i.vendor} ${i.device || i.description} (${i.architecture || 'n/a'})${i.description ? ` | driver: ${i.description}` : ''}`);
  console.log(`features:  ${[...g.features].sort().join(', ')}`);
  const keys = ['maxStorageBufferBindingSize', 'maxBufferSize', 'maxComputeWorkgroupStorageSize', 'maxComputeInvocationsPerWorkgroup',
    'maxComputeWorkgroupSizeX', 'maxComputeWorkgroupsPerDimension', 'maxStorageBuffersPerShaderStage', 'minUniformBufferOffsetAlignment'];
  console.log('limits:');
  for (const k of keys) console.log(`  ${k.padEnd(36)} ${g.limits[k]}`);
  console.log(`kernels:   ${Object.keys(kernels).length} reflected from kernels/**/*.wgsl`);
  destroyGpu();
}

async function main(argv: string[]): Promise<number> {
  const cmd = argv[0] ?? 'help';
  switch (cmd) {
    case 'info': await info(); return 0;
    case 'help': case '--help': case '-h': console.log(USAGE); return 0;
    default:
      console.error(`simreg: unknown command '${cmd}'\n\n${USAGE}`);
      return 2;
  }
}

main(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (e: Error) => {
  console.error(`simreg: ${e.message}`);
  process.exitCode = 1;
});
