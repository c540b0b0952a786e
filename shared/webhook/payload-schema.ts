/**
 * A route's payload shape, written in its JSON config as a small subset of JSON Schema and turned into a zod schema at
 * start-up. The subset (every other keyword is a config error, so nobody believes e.g. `format` is enforced):
 *
 *   type                  "object" | "array" | "string" | "number" | "integer" | "boolean" | "null"
 *   properties, required  objects; `required` names must exist (any type, unless `properties` says which)
 *   additionalProperties  false → unknown keys are rejected; default true (extra fields are fine)
 *   items                 arrays: the schema of every element
 *   minItems, maxItems    arrays
 *   minLength, maxLength  strings (UTF-16 code units, as zod counts)
 *   pattern               strings: an ECMAScript regular expression, unanchored (as in JSON Schema)
 *   minimum, maximum      numbers and integers (inclusive)
 *   enum, const           any type: the value must be one of these JSON scalars
 *   description           ignored (for people)
 *
 * Example: {"type":"object","required":["orderId"],"properties":{"orderId":{"type":"string","minLength":1}}}
 *
 * Why not zod's own `z.fromJSONSchema`: upstream calls it semi-experimental ("its behaviour is liable to change"), and
 * it accepts the whole of JSON Schema, where this subset is small enough to be checked strictly and documented here.
 */
import { z } from "zod";

export type PayloadType = "object" | "array" | "string" | "number" | "integer" | "boolean" | "null";
export type JsonScalar = string | number | boolean | null;

export interface PayloadSchema {
  type?: PayloadType | undefined;
  description?: string | undefined;
  properties?: Record<string, PayloadSchema> | undefined;
  required?: string[] | undefined;
  additionalProperties?: boolean | undefined;
  items?: PayloadSchema | undefined;
  minItems?: number | undefined;
  maxItems?: number | undefined;
  minLength?: number | undefined;
  maxLength?: number | undefined;
  pattern?: string | undefined;
  minimum?: number | undefined;
  maximum?: number | undefined;
  enum?: JsonScalar[] | undefined;
  const?: JsonScalar | undefined;
}

const count = z.number().int().nonnegative();
const scalar = z.union([z.string(), z.number(), z.boolean(), z.null()]);

/** The config-side schema of the subset itself (recursive, strict: unknown keywords are errors). */
export const payloadSchemaSchema: z.ZodType<PayloadSchema> = z.lazy(() =>
  z
    .strictObject({
      type: z.enum(["object", "array", "string", "number", "integer", "boolean", "null"]).optional(),
      description: z.string().optional(),
      properties: z.record(z.string(), payloadSchemaSchema).optional(),
      required: z.array(z.string()).optional(),
      additionalProperties: z.boolean().optional(),
      items: payloadSchemaSchema.optional(),
      minItems: count.optional(),
      maxItems: count.optional(),
      minLength: count.optional(),
      maxLength: count.optional(),
      pattern: z.string().refine(isRegExp, { message: "not a valid regular expression" }).optional(),
      minimum: z.number().optional(),
      maximum: z.number().optional(),
      enum: z.array(scalar).min(1).optional(),
      const: scalar.optional(),
    })
    .superRefine((node, ctx) => {
      const misplaced = (keys: Array<keyof PayloadSchema>, types: PayloadType[]) => {
        if (node.type === undefined) return;
        for (const key of keys) {
          if (node[key] !== undefined && !types.includes(node.type)) {
            ctx.addIssue({ code: "custom", path: [key], message: `"${key}" does not apply to type "${node.type}"` });
          }
        }
      };
      misplaced(["properties", "required", "additionalProperties"], ["object"]);
      misplaced(["items", "minItems", "maxItems"], ["array"]);
      misplaced(["minLength", "maxLength", "pattern"], ["string"]);
      misplaced(["minimum", "maximum"], ["number", "integer"]);
    }),
);

function isRegExp(pattern: string): boolean {
  try {
    new RegExp(pattern, "u");
    return true;
  } catch {
    return false;
  }
}

/** Builds the zod schema that checks a parsed body against the subset (only checks; the body is forwarded as is). */
export function payloadValidator(schema: PayloadSchema): z.ZodType {
  let base: z.ZodType;
  switch (schema.type) {
    case "object": {
      const required = new Set(schema.required ?? []);
      const shape: Record<string, z.ZodType> = {};
      for (const [key, child] of Object.entries(schema.properties ?? {})) {
        const inner = payloadValidator(child);
        shape[key] = required.has(key) ? inner : inner.optional();
      }
      for (const key of required) shape[key] ??= z.unknown();
      base = schema.additionalProperties === false ? z.strictObject(shape) : z.looseObject(shape);
      break;
    }
    case "array": {
      let array = z.array(schema.items ? payloadValidator(schema.items) : z.unknown());
      if (schema.minItems !== undefined) array = array.min(schema.minItems);
      if (schema.maxItems !== undefined) array = array.max(schema.maxItems);
      base = array;
      break;
    }
    case "string": {
      let text = z.string();
      if (schema.minLength !== undefined) text = text.min(schema.minLength);
      if (schema.maxLength !== undefined) text = text.max(schema.maxLength);
      if (schema.pattern !== undefined) text = text.regex(new RegExp(schema.pattern, "u"));
      base = text;
      break;
    }
    case "number":
    case "integer": {
      let number = schema.type === "integer" ? z.number().int() : z.number();
      if (schema.minimum !== undefined) number = number.min(schema.minimum);
      if (schema.maximum !== undefined) number = number.max(schema.maximum);
      base = number;
      break;
    }
    case "boolean":
      base = z.boolean();
      break;
    case "null":
      base = z.null();
      break;
    default:
      base = z.unknown();
  }
  const allowed = schema.const !== undefined ? [schema.const] : schema.enum;
  if (allowed !== undefined) {
    const literal = z.literal(allowed as [JsonScalar, ...JsonScalar[]]);
    base = schema.type === undefined ? literal : base.pipe(literal);
  }
  return base;
}
