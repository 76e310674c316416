// The shape of one reflected kernel, as build.mjs writes it into src/gen/kernels.gen.ts.
export type BindingType = 'uniform' | 'read-only-storage' | 'storage';
export type ScalarType = 'u32' | 'i32' | 'f32';

export interface KernelSpec {
  readonly name: string;
  readonly file: string;
  readonly entry: string;
  readonly hash: string;
  readonly source: string;
  readonly bindings: readonly { readonly name: string; readonly binding: number; readonly type: BindingType }[];
  readonly params: { readonly size: number; readonly fields: { readonly [field: string]: readonly [number, ScalarType] } };
  readonly overrides: { readonly [name: string]: { readonly type: string; readonly default: number } };
  readonly workgroupSize: readonly number[] | null;
  /** Each dimension of @workgroup_size: a literal, or the name of the override that sets it. */
  readonly workgroup: readonly (number | string)[];
  /** WGSL `enable` directives: the optional device features the kernel needs (e.g. subgroups, f16). */
  readonly enables: readonly string[];
}
