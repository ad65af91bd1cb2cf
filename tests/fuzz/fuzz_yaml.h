/* fuzz_yaml.h: for the targets that parse YAML with libfyaml (config, kubeconfig).
 *
 * Debian 12's libfyaml 0.7.12 leaks the atom iterator's grown chunk array when a scalar with
 * many escapes is read (fy_node_get_scalar of e.g. a single-quoted key of 39 '' pairs: 4 KiB
 * per load; upstream pantoniou/libfyaml#233, fixed after 0.7.12; docs/fuzzing.md finding 6).
 * It is not ours to fix and not instrumented (its frames have no symbols for LSan), so leaks
 * allocated inside libfyaml are suppressed here - for these two targets only. What the
 * suppression would hide on our side, a document we build and never destroy, is checked
 * instead: the Makefile links these targets with --wrap for fy_document_build_from_file and
 * fy_document_destroy, and the target calls fuzz_yaml_check_balanced() after every input.
 * Leaks of our own allocations (their stacks do not start in libfyaml) are still reported. */
#ifndef SGW_FUZZ_YAML_H
#define SGW_FUZZ_YAML_H
#include <libfyaml.h>

#include "fuzz_util.h"

const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void) { return "leak:libfyaml.so\n"; }

static long fuzz_yaml_live_docs;

struct fy_document *__real_fy_document_build_from_file(const struct fy_parse_cfg *cfg, const char *file);
void __real_fy_document_destroy(struct fy_document *fyd);
struct fy_document *__wrap_fy_document_build_from_file(const struct fy_parse_cfg *cfg, const char *file);
void __wrap_fy_document_destroy(struct fy_document *fyd);

struct fy_document *__wrap_fy_document_build_from_file(const struct fy_parse_cfg *cfg, const char *file)
{
    struct fy_document *d = __real_fy_document_build_from_file(cfg, file);
    if (d) fuzz_yaml_live_docs++;
    return d;
}

void __wrap_fy_document_destroy(struct fy_document *fyd)
{
    if (fyd) fuzz_yaml_live_docs--;
    __real_fy_document_destroy(fyd);
}

/* Every document the loader built is destroyed by the time it returns. */
__attribute__((unused)) static void fuzz_yaml_check_balanced(void)
{
    if (fuzz_yaml_live_docs != 0)
        fuzz_fail("%ld libfyaml document(s) built and not destroyed", fuzz_yaml_live_docs);
}

#endif
