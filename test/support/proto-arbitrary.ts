import fc from 'fast-check';
import type { PackageDefinition } from '@grpc/proto-loader';

/** The descriptor shape proto-loader gives for a message's fields. */
interface FieldDescriptor {
  name: string;
  label: string;
  type: string;
  typeName: string;
}

/** Strings a careless server could choke on, next to ones that reach deep code paths. */
export const hostileString: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  {
    weight: 4,
    arbitrary: fc.constantFrom(
    '',
    ' ',
    '\0',
    'a\0b',
    '\uD800',
    'x\uDC00y',
    '\u202Eevil\u202C',
    'ז״ל',
    '👩‍👩‍👧‍👦',
    '{u:alice}:rl',
    '%00',
    '../..',
    'ai',
    'general',
    'alice',
    '203.0.113.7',
    '::ffff:10.0.0.1',
    '2001:db8::1',
    '999.1.1.1',
    '1.2.3.4/33',
    ),
  },
  // Past every length limit; a few (in huge batches) also past the 4 MiB message limit.
  { weight: 1, arbitrary: fc.integer({ min: 257, max: 20_000 }).map((n) => 'x'.repeat(n)) },
);

const scalarArbs: Record<string, fc.Arbitrary<unknown>> = {
  TYPE_UINT32: fc.oneof(fc.constantFrom(0, 1, 2 ** 31 - 1, 2 ** 32 - 1), fc.nat()),
  TYPE_INT32: fc.oneof(fc.constantFrom(0, -1, -(2 ** 31), 2 ** 31 - 1), fc.integer()),
  TYPE_UINT64: fc.constantFrom('0', '1', '4294967296', '9007199254740993', '18446744073709551615'),
  TYPE_INT64: fc.constantFrom('0', '-1', '9007199254740993', '9223372036854775807', '-9223372036854775808'),
  TYPE_DOUBLE: fc.double(),
  TYPE_FLOAT: fc.float(),
  TYPE_BOOL: fc.boolean(),
  TYPE_ENUM: fc.integer({ min: -1, max: 12 }),
  TYPE_BYTES: fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a)),
  TYPE_STRING: hostileString,
};

/** Fields named here get a plausible value two times in three, so calls get past the first check. */
export type Plausible = Record<string, readonly unknown[]>;

/**
 * Requests for any message of a loaded proto package, every field filled with hostile values of
 * its type; repeated fields are sometimes far longer than any limit.
 */
export function messageArbitrary(def: PackageDefinition, typeName: string, plausible: Plausible = {}, pkg = 'floodgate.v1'): fc.Arbitrary<Record<string, unknown>> {
  const entry = (def[typeName] ?? def[`${pkg}.${typeName}`] ?? def[typeName.replace(/^\./, '')]) as { type?: { field: FieldDescriptor[] } } | undefined;
  if (!entry?.type) throw new Error(`no message type ${typeName} in the package definition`);
  const fields: Record<string, fc.Arbitrary<unknown>> = {};
  for (const f of entry.type.field) {
    const hostile = f.type === 'TYPE_MESSAGE' ? messageArbitrary(def, f.typeName, plausible, pkg) : scalarArbs[f.type];
    if (!hostile) throw new Error(`no arbitrary for ${f.type} (${typeName}.${f.name})`);
    const likely = plausible[f.name];
    const one = likely ? fc.oneof({ weight: 1, arbitrary: hostile }, { weight: 2, arbitrary: fc.constantFrom(...likely) }) : hostile;
    fields[f.name] =
      f.label === 'LABEL_REPEATED'
        ? fc.oneof(
            { weight: 5, arbitrary: fc.array(one, { maxLength: 5 }) },
            { weight: 1, arbitrary: fc.tuple(one, fc.integer({ min: 1_001, max: 3_000 })).map(([v, n]) => Array.from({ length: n }, () => v)) },
          )
        : one;
  }
  return fc.record(fields, { requiredKeys: [] });
}
