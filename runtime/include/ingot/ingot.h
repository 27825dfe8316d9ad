/* ingot.h: the C API of libingot, the only public header (C99 and C++).
 *
 * Load a compiled .ingot model once, open any number of sessions on it (each with its own KV
 * cache), tokenize, generate with a streaming callback, score text. docs/embedding.md shows it
 * by example. Conventions:
 *   - handles are opaque; every *_load / *_new has its *_free (free(NULL) does nothing);
 *   - parameters are structs passed by value, started from *_default_params();
 *   - functions that can fail return an ingot_status; ingot_last_error() then holds the
 *     message of the last such call on the calling thread;
 *   - no C++ exception leaves this API; out-of-memory and the like become statuses.
 * Threading: a model may be used by many threads at once (it is immutable after load); a session
 * by one thread at a time. Callbacks run on the thread that made the call. */
#ifndef INGOT_INGOT_H
#define INGOT_INGOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if defined(_WIN32)
#define INGOT_API
#elif defined(__GNUC__)
#define INGOT_API __attribute__((visibility("default")))
#else
#define INGOT_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---- status, errors, logging --------------------------------------------------------------- */

typedef enum ingot_status {
  INGOT_STATUS_OK = 0,
  INGOT_STATUS_INVALID_ARGUMENT = 1, /* a NULL handle, a bad parameter, an id outside the vocabulary */
  INGOT_STATUS_IO_ERROR = 2,         /* the file cannot be opened, read or mapped */
  INGOT_STATUS_INVALID_MODEL = 3,    /* not an .ingot file, a corrupt or inconsistent one, or a newer version */
  INGOT_STATUS_CHECKSUM_MISMATCH = 4, /* verify_checksums found a blob whose bytes changed */
  INGOT_STATUS_UNSUPPORTED = 5,      /* a backend or model feature this build cannot run */
  INGOT_STATUS_CONTEXT_FULL = 6,     /* the session's KV cache has no room for the tokens */
  INGOT_STATUS_BUFFER_TOO_SMALL = 7, /* the caller's buffer is too small; the needed size is returned */
  INGOT_STATUS_CANCELLED = 8,        /* a progress callback returned false */
  INGOT_STATUS_OUT_OF_MEMORY = 9,
  INGOT_STATUS_INTERNAL = 10,        /* a bug in ingot: please report the message */
  INGOT_STATUS_SCRIPT_ERROR = 11,    /* a Lua script failed: an error, a limit, a wrong return value; the
                                        message names the script, the hook, the line and the reason */
  INGOT_STATUS_TEMPLATE_ERROR = 12,  /* the chat template failed: a syntax error, an unsupported construct,
                                        a limit, or its own raise_exception (the message is its text) */
  INGOT_STATUS_KV_CACHE_FULL = 13    /* the model's pool of KV pages (its budget, set at load) has too few
                                        free pages for the tokens; nothing was evaluated or changed */
} ingot_status;

/* A static English name of a status ("ok", "invalid argument", ...); never NULL. */
INGOT_API const char* ingot_status_str(ingot_status status);

/* The message of the last status-returning call made by this thread: "" when it succeeded.
 * Valid until this thread's next ingot call. Never NULL. */
INGOT_API const char* ingot_last_error(void);

/* "0.1.0" */
INGOT_API const char* ingot_version(void);

typedef enum ingot_log_level {
  INGOT_LOG_DEBUG = 0,
  INGOT_LOG_INFO = 1,
  INGOT_LOG_WARN = 2,
  INGOT_LOG_ERROR = 3
} ingot_log_level;

/* `message` is one line without a trailing newline, valid during the call only. */
typedef void (*ingot_log_callback)(ingot_log_level level, const char* message, void* user_data);

/* Routes ingot's log to `callback` (any thread may call it; it must be thread-safe). Every failed
 * call logs "function: message" at INGOT_LOG_ERROR. The default writes warnings to stderr (errors
 * are returned to the caller, so it does not print them twice); NULL discards everything. */
INGOT_API void ingot_log_set(ingot_log_callback callback, void* user_data);

/* ---- models -------------------------------------------------------------------------------- */

typedef struct ingot_model ingot_model;
typedef struct ingot_session ingot_session;
typedef struct ingot_script ingot_script;

typedef enum ingot_backend {
  INGOT_BACKEND_CPU = 0,
  INGOT_BACKEND_CUDA = 1 /* docs/cuda.md; not yet run on a GPU. INGOT_STATUS_UNSUPPORTED when the build has no
                             CUDA or no device is usable */
} ingot_backend;

/* Loading progress in [0, 1]; return false to cancel (the load returns INGOT_STATUS_CANCELLED). */
typedef bool (*ingot_progress_callback)(float progress, void* user_data);

/* What the KV cache stores (docs/runtime.md): f16 halves its memory; f32 keeps the projections'
 * values exactly. */
typedef enum ingot_kv_type {
  INGOT_KV_F16 = 0,
  INGOT_KV_F32 = 1
} ingot_kv_type;

/* How the 4- and 8-bit quantized linears treat their activations: quantized to int8 per block of
 * 16 and multiplied in integers (faster; perplexity within 0.3% of f32), or kept f32.
 * ingot_model_default_params() gives INGOT_ACTIVATIONS_INT8 unless the environment says
 * INGOT_QUANT_ACT=f32. */
typedef enum ingot_activations {
  INGOT_ACTIVATIONS_INT8 = 0,
  INGOT_ACTIVATIONS_F32 = 1
} ingot_activations;

typedef struct ingot_model_params {
  ingot_backend backend;            /* INGOT_BACKEND_CPU */
  int32_t n_threads;                /* workers of the model's CPU thread pool, shared by all its
                                       sessions; 0: all cores */
  bool verify_checksums;            /* check every blob's XXH3-64 while loading (reads the whole file) */
  ingot_progress_callback progress; /* NULL: none */
  void* progress_user_data;
  ingot_kv_type kv_type;            /* INGOT_KV_F16 */
  size_t kv_budget_bytes;           /* the most the model's KV pages may take, shared by all its sessions
                                       (taken as they grow; a session that finds none free gets
                                       INGOT_STATUS_KV_CACHE_FULL); 0: room for 8 full contexts */
  ingot_activations activations;    /* INGOT_ACTIVATIONS_INT8 (see above) */
} ingot_model_params;

INGOT_API ingot_model_params ingot_model_default_params(void);

/* Maps `path` (read-only, zero-copy) and checks it. On success *out owns the model; on failure
 * *out is NULL. */
INGOT_API ingot_status ingot_model_load(const char* path, ingot_model_params params, ingot_model** out);
/* Frees the model; every session on it must have been freed first. */
INGOT_API void ingot_model_free(ingot_model* model);

/* Dimensions. */
INGOT_API int32_t ingot_model_n_vocab(const ingot_model* model);
INGOT_API int32_t ingot_model_n_ctx(const ingot_model* model); /* the context length it was trained for */
INGOT_API int32_t ingot_model_n_embd(const ingot_model* model);
INGOT_API int32_t ingot_model_n_layer(const ingot_model* model);
INGOT_API int32_t ingot_model_n_head(const ingot_model* model);
INGOT_API int32_t ingot_model_n_head_kv(const ingot_model* model);
INGOT_API int32_t ingot_model_token_bos(const ingot_model* model); /* -1: none */
INGOT_API int32_t ingot_model_token_eos(const ingot_model* model); /* -1: none */
/* True for the end-of-sequence token and the model's extra stop tokens. */
INGOT_API bool ingot_model_token_is_eos(const ingot_model* model, int32_t token);
INGOT_API bool ingot_model_has_tokenizer(const ingot_model* model);

/* Metadata: the container's key/value pairs, then its provenance as "provenance.compiler" and
 * "provenance.<option>" (the options ingotc ran with). Strings live as long as the model. */
INGOT_API size_t ingot_model_meta_count(const ingot_model* model);
INGOT_API const char* ingot_model_meta_key(const ingot_model* model, size_t i);   /* NULL past the end */
INGOT_API const char* ingot_model_meta_value(const ingot_model* model, size_t i); /* NULL past the end */
INGOT_API const char* ingot_model_meta_get(const ingot_model* model, const char* key); /* NULL: absent */

/* ---- tokens -------------------------------------------------------------------------------- */

/* Token ids of `text` (`text_len` bytes; UTF-8), with BOS first when `add_bos` and the model has
 * one. Writes at most `capacity` ids; *n_tokens gets the count needed. Returns
 * INGOT_STATUS_BUFFER_TOO_SMALL, writing nothing, when it exceeds `capacity` (call again with a
 * buffer of *n_tokens). */
INGOT_API ingot_status ingot_tokenize(const ingot_model* model, const char* text, size_t text_len, bool add_bos,
                                      int32_t* tokens, size_t capacity, size_t* n_tokens);

/* Text of `tokens`, NUL-terminated in `buf` when it fits in `capacity` bytes with the NUL;
 * *n_bytes gets the length without the NUL. INGOT_STATUS_BUFFER_TOO_SMALL as above. */
INGOT_API ingot_status ingot_detokenize(const ingot_model* model, const int32_t* tokens, size_t n_tokens, char* buf,
                                        size_t capacity, size_t* n_bytes);

/* ---- sessions ------------------------------------------------------------------------------ */

typedef struct ingot_session_params {
  int32_t n_ctx;     /* positions the KV cache holds; 0: the model's context length */
  int32_t n_threads; /* CPU threads of the model's pool this session's calls use (at most the
                        model's n_threads); 0: the model's n_threads */
} ingot_session_params;

INGOT_API ingot_session_params ingot_session_default_params(void);

/* A session borrows `model`, which must outlive it. */
INGOT_API ingot_status ingot_session_new(ingot_model* model, ingot_session_params params, ingot_session** out);
INGOT_API void ingot_session_free(ingot_session* session);

/* Empties the KV cache (a new conversation). */
INGOT_API void ingot_session_reset(ingot_session* session);
/* Tokens in the KV cache, and its size. */
INGOT_API int32_t ingot_session_position(const ingot_session* session);
INGOT_API int32_t ingot_session_n_ctx(const ingot_session* session);

/* Feeds `tokens` at the current position as one batch. `logits` (n_vocab floats) receives the
 * next-token logits after the last one; NULL when not wanted. */
INGOT_API ingot_status ingot_session_eval(ingot_session* session, const int32_t* tokens, size_t n_tokens,
                                          float* logits);

/* Steps several sessions of one model together, in one forward pass (the weights are read once
 * for all of them: several conversations decode at nearly the cost of one). Session i is fed
 * tokens[i][0 .. n_tokens[i]) (n_tokens[i] == 0: it sits this step out; a prompt chunk of one
 * session and single decode tokens of others can share a step). `logits` (n_sessions × n_vocab
 * floats, may be NULL) gets row i = the next-token logits of session i after its last token
 * (zeros for a session that sat out). Every session appears at most once. All or nothing: on
 * INGOT_STATUS_CONTEXT_FULL (a session's context), INGOT_STATUS_KV_CACHE_FULL (the model's page
 * pool) or INGOT_STATUS_INVALID_ARGUMENT no session changes. Threads: the sessions are used by
 * the calling thread for the call; the first session's n_threads applies. */
INGOT_API ingot_status ingot_session_eval_batch(ingot_session* const* sessions, size_t n_sessions,
                                                const int32_t* const* tokens, const size_t* n_tokens, float* logits);

typedef struct ingot_sampler_params {
  float temperature;    /* 0.8; <= 0: greedy */
  int32_t top_k;        /* 40; <= 0: no limit */
  float top_p;          /* 0.95; >= 1: no limit */
  float min_p;          /* 0: off; keep tokens with p >= min_p * p_max */
  float repeat_penalty; /* 1: off */
  int32_t repeat_last_n; /* 64 */
  uint64_t seed;        /* 0 */
} ingot_sampler_params;

/* Called with each generated token and its text (`text_len` bytes, not NUL-terminated, possibly
 * a partial UTF-8 sequence). Return false to stop generating. */
typedef bool (*ingot_token_callback)(int32_t token, const char* text, size_t text_len, void* user_data);

typedef struct ingot_generate_params {
  int32_t n_predict;            /* 128: tokens to generate at most */
  ingot_sampler_params sampler;
  ingot_token_callback on_token; /* NULL: none (read the stats) */
  void* user_data;
  bool parse_special;           /* false; true: special-token text in the prompt ("<s>", "<|eot_id|>")
                                   becomes its id, as a chat template's output needs; BOS is then
                                   added only when the text does not already start with it */
} ingot_generate_params;

INGOT_API ingot_generate_params ingot_generate_default_params(void);

typedef enum ingot_stop_reason {
  INGOT_STOP_LENGTH = 0,  /* n_predict tokens generated */
  INGOT_STOP_EOS = 1,     /* the model produced an end-of-sequence token */
  INGOT_STOP_CALLBACK = 2 /* on_token returned false */
} ingot_stop_reason;

typedef struct ingot_generate_stats {
  int32_t n_prompt;    /* tokens evaluated before the first generated one */
  int32_t n_generated;
  double prompt_seconds, generate_seconds;
  ingot_stop_reason stop_reason;
} ingot_generate_stats;

/* Continues the session with `prompt` (UTF-8, NUL-terminated; BOS first when the session is
 * empty and the tokenizer asks for it) and samples up to n_predict tokens, streaming them to
 * on_token. Generated tokens stay in the session: the next call continues after them. Returns
 * INGOT_STATUS_CONTEXT_FULL when the cache fills (the tokens streamed so far stand). `stats` may
 * be NULL. */
INGOT_API ingot_status ingot_session_generate(ingot_session* session, const char* prompt, ingot_generate_params params,
                                              ingot_generate_stats* stats);

/* For a chat that renders its whole conversation each turn: `text` is everything from the start
 * (tokenized as for an empty session: BOS when the tokenizer asks for it, special-token text with
 * parse_special), not a continuation. The positions the session holds that equal the first tokens
 * of `text` are kept (at least the last token is evaluated again), the rest is evaluated, then up
 * to n_predict tokens are sampled as by ingot_session_generate; stats->n_prompt counts only the
 * tokens evaluated. Returns INGOT_STATUS_CONTEXT_FULL when `text` alone exceeds the context. */
INGOT_API ingot_status ingot_session_generate_from_start(ingot_session* session, const char* text,
                                                         ingot_generate_params params, ingot_generate_stats* stats);

/* ---- scripts -------------------------------------------------------------------------------
 * A Lua script (spec/scripting.md) that shapes logits, picks tokens, watches the stream and
 * formats chat prompts. It runs sandboxed, with an instruction budget per hook call and a memory
 * cap. Ownership and threads: a script is a Lua state of its own, used by one thread at a time.
 * A session borrows the script attached to it; a script is attached to at most one session at a
 * time (attaching it to a second one fails), and must stay alive while attached: free the
 * session or detach (ingot_session_set_script(session, NULL)) before freeing the script. Load
 * one script per session to run sessions on several threads. */

typedef struct ingot_script_params {
  uint64_t max_instructions; /* 50,000,000: Lua VM instructions one hook call may execute */
  size_t max_memory;         /* 64 MiB: bytes the script's Lua state may hold (at least 64 KiB) */
} ingot_script_params;

INGOT_API ingot_script_params ingot_script_default_params(void);

/* Loads the script and runs its main chunk under the limits. A missing or unreadable file gives
 * INGOT_STATUS_IO_ERROR; a syntax error, a runtime error or an exceeded limit in the main chunk
 * INGOT_STATUS_SCRIPT_ERROR, with "script 'NAME': NAME:LINE: reason" as the last error. On
 * failure *out is NULL. */
INGOT_API ingot_status ingot_script_load_file(const char* path, ingot_script_params params, ingot_script** out);
/* The same from `code_len` bytes of Lua source text (never bytecode); `name` stands for the file
 * in messages ("chat.lua"). */
INGOT_API ingot_status ingot_script_load_string(const char* code, size_t code_len, const char* name,
                                                ingot_script_params params, ingot_script** out);
/* Frees the script; when still attached, it is first detached from its session (which must not
 * be in a call then). */
INGOT_API void ingot_script_free(ingot_script* script);

/* Whether the script defines `hook`: "process_logits", "sample", "on_token", "format_prompt". */
INGOT_API bool ingot_script_has_hook(const ingot_script* script, const char* hook);

/* Attaches `script` to `session`: its hooks run in every later ingot_session_generate, and
 * replace the built-in sampler where it defines `sample`. NULL detaches the current one. Fails
 * with INGOT_STATUS_INVALID_ARGUMENT when the script is attached to another session. A script
 * error during generation ends that call with INGOT_STATUS_SCRIPT_ERROR; the tokens streamed so
 * far stay in the session, which remains usable. */
INGOT_API ingot_status ingot_session_set_script(ingot_session* session, ingot_script* script);

/* One chat message: role ("system", "user", "assistant") and content, UTF-8, NUL-terminated. */
typedef struct ingot_chat_message {
  const char* role;
  const char* content;
} ingot_chat_message;

/* The prompt the script's format_prompt(messages, ctx) builds for `messages` (without one, a
 * neutral "role: content\n" transcript ending in "assistant:"). `model` is what ctx describes
 * (ctx.special_tokens, ctx.chat_template); NULL: the model of the session the script is attached
 * to, else none. NUL-terminated in `buf` when it fits in `capacity` bytes with the NUL; *n_bytes
 * gets the length without the NUL; INGOT_STATUS_BUFFER_TOO_SMALL, writing nothing, otherwise.
 * Pass the result to ingot_session_generate with parse_special set. */
INGOT_API ingot_status ingot_script_format_prompt(ingot_script* script, const ingot_model* model,
                                                  const ingot_chat_message* messages, size_t n_messages, char* buf,
                                                  size_t capacity, size_t* n_bytes);

/* ---- chat templates ------------------------------------------------------------------------ */

/* The chat template the model's container carries (from tokenizer_config.json or GGUF), Jinja
 * source, NUL-terminated, valid while the model lives; NULL when it carries none. */
INGOT_API const char* ingot_model_chat_template(const ingot_model* model);

/* `messages` rendered with the model's chat template as transformers' apply_chat_template renders
 * them (docs/chat-templates.md): add_generation_prompt, bos_token/eos_token from the model,
 * `tools_json` a JSON array of tool schemas or NULL (None), documents None. NUL-terminated in `buf`
 * when it fits in `capacity` bytes with the NUL; *n_bytes gets the length without the NUL;
 * INGOT_STATUS_BUFFER_TOO_SMALL, writing nothing, otherwise. INGOT_STATUS_UNSUPPORTED when the
 * model has no template; INGOT_STATUS_TEMPLATE_ERROR when the template fails (the last error
 * says why and where). Pass the result to ingot_session_generate_from_start with parse_special. */
INGOT_API ingot_status ingot_chat_render(const ingot_model* model, const ingot_chat_message* messages,
                                         size_t n_messages, bool add_generation_prompt, const char* tools_json,
                                         char* buf, size_t capacity, size_t* n_bytes);

/* ---- perplexity ---------------------------------------------------------------------------- */

/* After each window: windows done, windows in all, perplexity so far. */
typedef void (*ingot_perplexity_callback)(size_t done, size_t total, double ppl, void* user_data);

typedef struct ingot_perplexity_params {
  int32_t n_ctx;       /* window length; 0: min(2048, the model's context length) */
  int32_t max_chunks;  /* 0: every window */
  int32_t n_threads;   /* 0: the model's n_threads */
  ingot_perplexity_callback progress; /* NULL: none */
  void* user_data;
} ingot_perplexity_params;

INGOT_API ingot_perplexity_params ingot_perplexity_default_params(void);

typedef struct ingot_perplexity_result {
  double ppl;       /* exp(mean_nll) */
  double mean_nll;  /* mean negative log-likelihood, nats per token */
  size_t n_tokens;  /* tokens in the text, BOS included */
  size_t n_scored;  /* tokens scored */
  size_t n_chunks;  /* windows evaluated */
} ingot_perplexity_result;

/* Perplexity of `text` by the GPTQ paper's protocol (docs/perplexity.md): [BOS] + tokens split
 * into non-overlapping windows of n_ctx (a partial last one dropped), each from an empty cache.
 * Uses its own KV cache, so it may run while sessions are in use. */
INGOT_API ingot_status ingot_model_perplexity(const ingot_model* model, const char* text, size_t text_len,
                                              ingot_perplexity_params params, ingot_perplexity_result* out);

#ifdef __cplusplus
}
#endif

#endif /* INGOT_INGOT_H */
