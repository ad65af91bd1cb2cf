/* kubeconfig.h: where the Kubernetes API is and how to authenticate to it, from a
 * kubeconfig file (current context) or from the in-cluster service account.
 * Everything returned is owned by the k8s_config and freed with k8s_config_free. */
#ifndef SGW_K8S_KUBECONFIG_H
#define SGW_K8S_KUBECONFIG_H
#include <stdbool.h>
#include <stddef.h>

typedef struct k8s_config {
    char  *server;            /* "https://host:port" (no trailing slash) */
    char  *ca_pem;            /* CA bundle (PEM bytes), NULL = system CAs */
    size_t ca_len;
    bool   insecure;          /* insecure-skip-tls-verify: true only if the kubeconfig says so */
    char  *token;             /* bearer token, NULL if none */
    char  *token_file;        /* re-read when it changes (in-cluster, tokenFile), NULL if none */
    char  *cert_pem;          /* client certificate (PEM bytes), NULL if none */
    size_t cert_len;
    char  *key_pem;           /* client key (PEM bytes), NULL if none */
    size_t key_len;
    char  *namespace;         /* context namespace / the pod's namespace; "default" if none */
    char  *context;           /* name of the context used ("in-cluster" for the SA) */
} k8s_config;

/* Loads path (a kubeconfig, YAML or JSON): the current-context's cluster and user.
 * Supports certificate-authority(-data), insecure-skip-tls-verify, token, tokenFile,
 * client-certificate(-data), client-key(-data); relative file paths are relative to the
 * kubeconfig's directory. exec/auth-provider users are refused with a clear message.
 * Returns 0, or with a message in err: SGW_E_IO (a file it names cannot be read) or
 * SGW_E_INVALID (what it holds is refused). */
int k8s_config_from_kubeconfig(const char *path, k8s_config *out, char *err, size_t errlen);

/* In-cluster: KUBERNETES_SERVICE_HOST / KUBERNETES_SERVICE_PORT from envp (NULL = environ),
 * and sa_dir (NULL = /var/run/secrets/kubernetes.io/serviceaccount) holding token, ca.crt
 * and namespace. The token is referenced by token_file so rotation is followed.
 * Returns 0, or with a message in err: SGW_E_INVALID (not in a cluster, a bad host or port,
 * a bad namespace file) or SGW_E_IO (a service-account file cannot be read). */
int k8s_config_in_cluster(const char *sa_dir, char *const *envp, k8s_config *out, char *err, size_t errlen);

/* kubeconfig path if non-empty, else $KUBECONFIG (first entry), else in-cluster if
 * KUBERNETES_SERVICE_HOST is set, else ~/.kube/config. Returns what the loader it picked
 * returns, or SGW_E_NOTFOUND with a message in err when there is nothing to load. */
int k8s_config_resolve(const char *kubeconfig, const char *sa_dir, char *const *envp, k8s_config *out,
                       char *err, size_t errlen);

void k8s_config_free(k8s_config *c);

#endif
