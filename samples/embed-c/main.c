/* embed-c: a C program that uses only <ingot/ingot.h>. Loads a model, streams a completion to
 * stdout and prints the generation speed on stderr.
 *   embed-c MODEL.ingot [PROMPT] [N_TOKENS]                                                    */
#include <ingot/ingot.h>
#include <stdio.h>
#include <stdlib.h>

static bool show_progress(float progress, void* user_data) {
  int* shown = (int*)user_data; /* the last percentage printed */
  const int percent = (int)(progress * 100.0f);
  if (percent / 10 == *shown / 10) return true;
  fprintf(stderr, "%sloading %d%%", *shown < 10 ? "" : ", ", percent);
  *shown = percent;
  if (progress >= 1.0f) fprintf(stderr, "\n");
  return true; /* false would cancel the load */
}

static bool print_token(int32_t token, const char* text, size_t text_len, void* user_data) {
  (void)token;
  (void)user_data;
  fwrite(text, 1, text_len, stdout);
  fflush(stdout);
  return true; /* false would stop the generation here */
}

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s MODEL.ingot [PROMPT] [N_TOKENS]\n", argv[0]);
    return 2;
  }
  const char* prompt = argc > 2 ? argv[2] : "Once upon a time";
  const int n_predict = argc > 3 ? atoi(argv[3]) : 64;

  ingot_model_params mp = ingot_model_default_params();
  mp.verify_checksums = true;
  int shown = -10;
  mp.progress = show_progress;
  mp.progress_user_data = &shown;
  ingot_model* model = NULL;
  ingot_status status = ingot_model_load(argv[1], mp, &model);
  if (status != INGOT_STATUS_OK) {
    fprintf(stderr, "embed-c: %s: %s\n", ingot_status_str(status), ingot_last_error());
    return 1;
  }

  ingot_session* session = NULL;
  status = ingot_session_new(model, ingot_session_default_params(), &session);
  if (status != INGOT_STATUS_OK) {
    fprintf(stderr, "embed-c: %s: %s\n", ingot_status_str(status), ingot_last_error());
    ingot_model_free(model);
    return 1;
  }

  ingot_generate_params gp = ingot_generate_default_params();
  gp.n_predict = n_predict;
  gp.sampler.temperature = 0.0f; /* greedy: the same text every run */
  gp.on_token = print_token;
  ingot_generate_stats stats;
  fputs(prompt, stdout);
  status = ingot_session_generate(session, prompt, gp, &stats);
  fputs("\n", stdout);
  if (status == INGOT_STATUS_OK) {
    const double seconds = stats.generate_seconds > 0 ? stats.generate_seconds : 1e-9;
    fprintf(stderr, "embed-c: %d prompt tokens, %d generated in %.3f s: %.1f tokens/s\n", stats.n_prompt,
            stats.n_generated, stats.generate_seconds, stats.n_generated / seconds);
  } else {
    fprintf(stderr, "embed-c: %s: %s\n", ingot_status_str(status), ingot_last_error());
  }
  ingot_session_free(session);
  ingot_model_free(model);
  return status == INGOT_STATUS_OK ? 0 : 1;
}
