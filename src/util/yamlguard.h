/* yamlguard.h: refuse, before libfyaml sees it, YAML that Debian's libfyaml 0.7.12 cannot
 * parse safely: it hangs on invalid UTF-8 in a directive and crashes on a tab
 * after a complex key (docs/fuzzing.md, libfyaml upstream #101 and #57). Our files (the
 * gateway config, kubeconfigs) need none of these: invalid UTF-8, tab characters, and
 * "%" directive lines are rejected with a clear message instead. */
#ifndef SGW_YAMLGUARD_H
#define SGW_YAMLGUARD_H
#include <stddef.h>

/* 0 if path may be given to libfyaml; otherwise SGW_E_IO (it cannot be read) or
 * SGW_E_INVALID (what it holds is refused), with a message (file:line) in err. Files over
 * 4 MiB are refused too. */
int yaml_guard_file(const char *path, char *err, size_t errlen);

#endif
