/**
 * Templates that derive an instance ID (or a delivery ID) from a request: literal text with `{source.path}`
 * placeholders, e.g. `order-{body.orderId}`, `{headers.x-request-id}`, `gh-{body.repository.id}-{body.number}`.
 *
 *   {body.a.b.0.c}   a value of the parsed JSON body (dot-separated keys; a number selects an array element)
 *   {headers.name}   a request header (case-insensitive)
 *   {query.name}     a query-string parameter
 *
 * A placeholder must resolve to a string or a finite number; anything else (missing, null, object, array, boolean,
 * empty string) is a validation issue of the request. Templates are parsed once, at start-up; a malformed one is a
 * config error. There is no escape for `{` or `}`: instance IDs cannot contain them anyway.
 */

export type TemplateSource = "body" | "headers" | "query";

export type TemplatePart = { literal: string } | { source: TemplateSource; path: string[]; text: string };

export interface Template {
  readonly text: string;
  readonly parts: readonly TemplatePart[];
}

export interface TemplateInput {
  body: unknown;
  /** Lower-case header names. */
  headers: Readonly<Record<string, string | undefined>>;
  query: URLSearchParams;
}

export type RenderResult = { ok: true; value: string } | { ok: false; placeholder: string; message: string };

const PLACEHOLDER = /\{([^{}]*)\}/g;
const SOURCES = new Set<TemplateSource>(["body", "headers", "query"]);

/** Parses a template; throws an Error naming the problem (the config loader turns it into a config issue). */
export function parseTemplate(text: string): Template {
  const parts: TemplatePart[] = [];
  let last = 0;
  for (const match of text.matchAll(PLACEHOLDER)) {
    const literal = text.slice(last, match.index);
    if (/[{}]/.test(literal)) throw new Error(`unbalanced brace in template "${text}"`);
    if (literal !== "") parts.push({ literal });
    const inner = (match[1] ?? "").trim();
    const [source, ...path] = inner.split(".");
    if (!SOURCES.has(source as TemplateSource)) {
      throw new Error(`placeholder {${inner}} in "${text}": the source must be body, headers or query`);
    }
    if (path.length === 0 || path.some((p) => p === "")) {
      throw new Error(`placeholder {${inner}} in "${text}": name a field, e.g. {${source}.id}`);
    }
    if (source !== "body" && path.length !== 1) {
      throw new Error(`placeholder {${inner}} in "${text}": ${source} take one name, e.g. {${source}.x-request-id}`);
    }
    parts.push({
      source: source as TemplateSource,
      path: source === "headers" ? [path[0]!.toLowerCase()] : path,
      text: `{${inner}}`,
    });
    last = match.index + match[0].length;
  }
  const tail = text.slice(last);
  if (/[{}]/.test(tail)) throw new Error(`unbalanced brace in template "${text}"`);
  if (tail !== "") parts.push({ literal: tail });
  if (!parts.some((p) => "source" in p)) throw new Error(`template "${text}" has no placeholder`);
  return { text, parts };
}

export function renderTemplate(template: Template, input: TemplateInput): RenderResult {
  let value = "";
  for (const part of template.parts) {
    if ("literal" in part) {
      value += part.literal;
      continue;
    }
    const resolved = lookup(part, input);
    if (resolved === undefined) {
      return { ok: false, placeholder: part.text, message: `${part.text} has no string or number value` };
    }
    value += resolved;
  }
  return { ok: true, value };
}

function lookup(part: Extract<TemplatePart, { source: TemplateSource }>, input: TemplateInput): string | undefined {
  let value: unknown;
  if (part.source === "headers") value = input.headers[part.path[0]!];
  else if (part.source === "query") value = input.query.get(part.path[0]!) ?? undefined;
  else {
    value = input.body;
    for (const key of part.path) {
      if (Array.isArray(value) && /^\d+$/.test(key)) value = value[Number(key)];
      else if (value !== null && typeof value === "object" && !Array.isArray(value) && Object.hasOwn(value, key)) {
        value = (value as Record<string, unknown>)[key];
      } else return undefined;
    }
  }
  if (typeof value === "string") return value === "" ? undefined : value;
  if (typeof value === "number" && Number.isFinite(value)) return String(value);
  return undefined;
}
