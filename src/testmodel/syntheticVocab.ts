/**
 * The tokenizer side of the synthetic models: a byte-level BPE vocabulary in GPT-2's byte-to-unicode
 * encoding (as Qwen2's tokenizer has it), a few merges, the ChatML special tokens, and the Qwen2.5
 * chat template, so node-llama-cpp and llama.cpp treat the model as a Qwen2.5 instruct model.
 */

/** Qwen2.5-Instruct's chat template, verbatim (as in llama.cpp's models/templates/Qwen-Qwen2.5-7B-Instruct.jinja). */
export const QWEN25_CHAT_TEMPLATE = `{%- if tools %}
    {{- '<|im_start|>system\\n' }}
    {%- if messages[0]['role'] == 'system' %}
        {{- messages[0]['content'] }}
    {%- else %}
        {{- 'You are Qwen, created by Alibaba Cloud. You are a helpful assistant.' }}
    {%- endif %}
    {{- "\\n\\n# Tools\\n\\nYou may call one or more functions to assist with the user query.\\n\\nYou are provided with function signatures within <tools></tools> XML tags:\\n<tools>" }}
    {%- for tool in tools %}
        {{- "\\n" }}
        {{- tool | tojson }}
    {%- endfor %}
    {{- "\\n</tools>\\n\\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\\n<tool_call>\\n{\\"name\\": <function-name>, \\"arguments\\": <args-json-object>}\\n</tool_call><|im_end|>\\n" }}
{%- else %}
    {%- if messages[0]['role'] == 'system' %}
        {{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}
    {%- else %}
        {{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\\n' }}
    {%- endif %}
{%- endif %}
{%- for message in messages %}
    {%- if (message.role == "user") or (message.role == "system" and not loop.first) or (message.role == "assistant" and not message.tool_calls) %}
        {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}
    {%- elif message.role == "assistant" %}
        {{- '<|im_start|>' + message.role }}
        {%- if message.content %}
            {{- '\\n' + message.content }}
        {%- endif %}
        {%- for tool_call in message.tool_calls %}
            {%- if tool_call.function is defined %}
                {%- set tool_call = tool_call.function %}
            {%- endif %}
            {{- '\\n<tool_call>\\n{"name": "' }}
            {{- tool_call.name }}
            {{- '", "arguments": ' }}
            {{- tool_call.arguments | tojson }}
            {{- '}\\n</tool_call>' }}
        {%- endfor %}
        {{- '<|im_end|>\\n' }}
    {%- elif message.role == "tool" %}
        {%- if (loop.index0 == 0) or (messages[loop.index0 - 1].role != "tool") %}
            {{- '<|im_start|>user' }}
        {%- endif %}
        {{- '\\n<tool_response>\\n' }}
        {{- message.content }}
        {{- '\\n</tool_response>' }}
        {%- if loop.last or (messages[loop.index0 + 1].role != "tool") %}
            {{- '<|im_end|>\\n' }}
        {%- endif %}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\\n' }}
{%- endif %}
`;

// ---------------------------------------------------------------------------------------------
// Tokenizer

export const TOKEN_TYPE_NORMAL = 1;
export const TOKEN_TYPE_CONTROL = 3;
export const TOKEN_TYPE_UNUSED = 5;

export const SPECIAL_TOKENS = Object.freeze(["<|endoftext|>", "<|im_start|>", "<|im_end|>"] as const);

/**
 * A few of GPT-2's first BPE merges (in byte-level unicode form, "Ġ" = space), in priority order.
 * Every merge only uses byte tokens or results of earlier merges.
 */
const MERGES: readonly string[] = Object.freeze([
    "Ġ t", "Ġ a", "h e", "i n", "r e", "o n", "Ġt he", "e r", "Ġ s", "a t",
    "Ġ w", "Ġ o", "e n", "Ġ c", "i t", "i s", "a n", "o r", "e s", "Ġ b",
    "e d", "Ġ f", "in g", "Ġ p", "o u", "Ġa n", "a l", "a r", "Ġt o", "Ġ m",
    "Ġo f", "Ġ in", "Ġ d", "Ġ h", "Ġan d", "i c", "a s", "l e", "Ġt h", "i on",
    "o m", "l l", "en t", "Ġ n", "Ġ l", "s t", "Ġ re", "v e", "Ġ e", "r o",
    "l y", "Ġb e", "Ġ g", "Ġ T", "c t", "Ġ S", "i d", "o t", "Ġ I", "u t"
]);

/** GPT-2's bytes_to_unicode(): byte value -> the unicode character that represents it in the vocab. */
export function gpt2ByteToUnicode(): string[] {
    const bs: number[] = [];
    for (let b = 0x21; b <= 0x7e; b++) bs.push(b);
    for (let b = 0xa1; b <= 0xac; b++) bs.push(b);
    for (let b = 0xae; b <= 0xff; b++) bs.push(b);
    const cs = [...bs];
    let n = 0;
    for (let b = 0; b < 256; b++) {
        if (!bs.includes(b)) {
            bs.push(b);
            cs.push(256 + n);
            n++;
        }
    }
    const table = new Array<string>(256);
    for (let i = 0; i < bs.length; i++) table[bs[i]] = String.fromCodePoint(cs[i]);
    return table;
}

export interface SyntheticVocab {
    /** Token texts, in id order (byte-level BPE unicode form). */
    tokens: string[];
    tokenTypes: number[];
    /** BPE merges, "a b". */
    merges: string[];
    /** Whether every byte of the token is printable ASCII (0x20..0x7E); false for special / unused tokens. */
    printable: boolean[];
    endOfTextId: number;
    imStartId: number;
    imEndId: number;
}

export function buildSyntheticVocab(padTo?: number): SyntheticVocab {
    const byteToUnicode = gpt2ByteToUnicode();
    const unicodeToByte = new Map<string, number>();
    byteToUnicode.forEach((ch, b) => unicodeToByte.set(ch, b));

    const tokens: string[] = [...byteToUnicode];
    const tokenTypes: number[] = tokens.map(() => TOKEN_TYPE_NORMAL);
    const ids = new Map<string, number>();
    tokens.forEach((t, i) => ids.set(t, i));

    for (const merge of MERGES) {
        const parts = merge.split(" ");
        if (parts.length !== 2 || !ids.has(parts[0]) || !ids.has(parts[1]))
            throw new Error(`invalid merge "${merge}"`);
        const merged = parts[0] + parts[1];
        if (ids.has(merged)) throw new Error(`duplicate merge result "${merged}"`);
        ids.set(merged, tokens.length);
        tokens.push(merged);
        tokenTypes.push(TOKEN_TYPE_NORMAL);
    }

    const printable = tokens.map((t) => [...t].every((ch) => {
        const b = unicodeToByte.get(ch);
        return b != null && b >= 0x20 && b <= 0x7e;
    }));

    const specialBase = tokens.length;
    for (const special of SPECIAL_TOKENS) {
        tokens.push(special);
        tokenTypes.push(TOKEN_TYPE_CONTROL);
        printable.push(false);
    }

    if (padTo != null) {
        if (padTo < tokens.length) throw new RangeError(`cannot pad vocab of ${tokens.length} tokens to ${padTo}`);
        while (tokens.length < padTo) {
            tokens.push(`[PAD${tokens.length}]`);
            tokenTypes.push(TOKEN_TYPE_UNUSED);
            printable.push(false);
        }
    }

    return {
        tokens,
        tokenTypes,
        merges: [...MERGES],
        printable,
        endOfTextId: specialBase,
        imStartId: specialBase + 1,
        imEndId: specialBase + 2
    };
}

// ---------------------------------------------------------------------------------------------
// Deterministic weights
