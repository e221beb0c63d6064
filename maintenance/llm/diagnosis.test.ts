import { describe, expect, it } from 'vitest';
import { simulatedDiagnosis } from '../../simulators/llm/answer.js';
import { buildMessages } from './prompt.js';
import { sampleContext } from './client.js';
import { diagnosisJsonSchema, diagnosisSchema, PRIORITIES } from './diagnosis.js';

interface JsonSchemaNode {
  type?: string;
  properties?: Record<string, JsonSchemaNode>;
  required?: string[];
  additionalProperties?: boolean;
  items?: JsonSchemaNode;
  enum?: string[];
}

/** Every object node, with its path. */
function objects(node: JsonSchemaNode, path = '$'): Array<[string, JsonSchemaNode]> {
  const out: Array<[string, JsonSchemaNode]> = [];
  if (node.type === 'object') out.push([path, node]);
  for (const [k, v] of Object.entries(node.properties ?? {}))
    out.push(...objects(v, `${path}.${k}`));
  if (node.items) out.push(...objects(node.items, `${path}[]`));
  return out;
}

describe('diagnosis schema', () => {
  const schema = diagnosisJsonSchema as JsonSchemaNode;

  it('has the fields of the zod schema, all required (OpenAI strict mode)', () => {
    expect(Object.keys(schema.properties ?? {}).sort()).toEqual(
      Object.keys(diagnosisSchema.shape).sort(),
    );
    for (const [path, node] of objects(schema)) {
      expect(node.additionalProperties, path).toBe(false);
      expect([...(node.required ?? [])].sort(), path).toEqual(
        Object.keys(node.properties ?? {}).sort(),
      );
    }
    expect(schema.properties?.suggestedPriority?.enum).toEqual([...PRIORITIES]);
    expect('$schema' in diagnosisJsonSchema).toBe(false);
  });

  it.each([
    ['a valid answer', {}, true],
    ['an unknown priority', { suggestedPriority: 'URGENT' }, false],
    ['an extra field', { extra: 1 }, false],
    ['a missing field', { checks: undefined }, false],
    ['a bad likelihood', { probableCauses: [{ cause: 'x', likelihood: 'certain' }] }, false],
  ])('zod accepts %s: %s', (_name, patch, ok) => {
    const answer = { ...simulatedDiagnosis(buildMessages(sampleContext())[1]!.content), ...patch };
    expect(diagnosisSchema.safeParse(answer).success).toBe(ok);
  });
});
