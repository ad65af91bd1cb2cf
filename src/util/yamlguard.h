/* yamlguard.h: refuse, before libfyaml sees it, YAML that Debian's libfyaml 0.7.12 cannot
 * parse safely. Fuzzing found it hangs on invalid UTF-8 in a directive and crashes on a tab
 * after a complex key (docs/fuzzing.md, libfyaml upstream #101 and #57). Our files (the
 * gateway config, kubeconfigs) need none of these: invalid UTF-8, tab characters, and
 * "%" directive lines are rejected with a clear message instead. */
#ifndef SGW_YAMLGUARD_H
#define SGW_YAMLGUARD_H
#include <stddef.h>

/* 0 if path may be given to libfyaml; -1 with a message (file:line) otherwise. Files over
 * 4 MiB are refused too. */
int yaml_guard_file(const char *path, char *err, size_t errlen);

#endif
