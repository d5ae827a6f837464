#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include <curl/curl.h>

#include "httpc.h"
#include "log.h"
#include "util.h"

#ifndef HAVEN_VERSION
#define HAVEN_VERSION "unknown"
#endif

#define HTTPC_MAX_ANSWER	(32 * 1024 * 1024)
#define HTTPC_TIMEOUT		30L

struct httpc_sink {
	struct fbuf	buf;
	int		too_big;
};

static size_t
httpc_write(char *p, size_t size, size_t n, void *arg)
{
	struct httpc_sink	*s = arg;
	size_t			 len = size * n;

	if (s->buf.len + len > HTTPC_MAX_ANSWER) {
		s->too_big = 1;
		return 0;	/* makes curl fail with CURLE_WRITE_ERROR */
	}
	fbuf_add(&s->buf, p, len);
	return len;
}

static void
httpc_global_init(void)
{
	static int	done;

	if (done)
		return;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		fatalx("curl_global_init failed");
	done = 1;
}

/* What to call the other end in messages: the socket path or host:port. */
static const char *
httpc_addr(const struct httpc_opts *o)
{
	const char	*u = o->base_url, *p;

	if (o->unix_socket != NULL)
		return o->unix_socket;
	if (u == NULL)
		return "(no address)";
	if ((p = strstr(u, "://")) != NULL)
		u = p + 3;
	/* Not the user part (an enrollment token's id, docs/enrollment.md). */
	if ((p = strchr(u, '@')) != NULL && strcspn(u, "/") > (size_t)(p - u))
		u = p + 1;
	return u;
}

static void
httpc_unix_fail(const struct httpc_opts *o, CURLcode rc, int oserr,
    const char *detail, long timeout, char **cause)
{
	const char	*path = o->unix_socket;
	struct stat	 st;

	if (rc == CURLE_OPERATION_TIMEDOUT) {
		set_cause(cause, "havend at %s did not answer within %ld "
		    "seconds (it may be stuck or overloaded; check "
		    "'journalctl -u havend')", path, timeout);
		return;
	}
	if (rc != CURLE_COULDNT_CONNECT) {
		set_cause(cause, "talking to havend at %s failed: %s (check "
		    "'journalctl -u havend')", path, detail);
		return;
	}
	/* curl does not always keep the errno of a unix connect(). */
	if (oserr == 0)
		oserr = stat(path, &st) == -1 ? errno : ECONNREFUSED;
	if (oserr == EACCES || oserr == EPERM)
		set_cause(cause, "cannot reach havend at %s: %s (the socket "
		    "is for root only: run havenctl as root, e.g. with sudo)",
		    path, strerror(oserr));
	else
		set_cause(cause, "cannot reach havend at %s: %s (is havend "
		    "running? check 'systemctl status havend')", path,
		    strerror(oserr));
}

static void
httpc_tcp_fail(const struct httpc_opts *o, CURLcode rc, int oserr,
    const char *detail, long timeout, char **cause)
{
	const char	*addr = httpc_addr(o);

	switch (rc) {
	case CURLE_COULDNT_RESOLVE_HOST:
		set_cause(cause, "cannot resolve the host name in %s: %s "
		    "(check the name, DNS and /etc/hosts, or use the IP "
		    "address)", addr, detail);
		break;
	case CURLE_COULDNT_CONNECT:
		set_cause(cause, "cannot reach havend at %s: %s (check the "
		    "address and port, that havend is running there and that "
		    "no firewall blocks the port)", addr,
		    oserr ? strerror(oserr) : detail);
		break;
	case CURLE_OPERATION_TIMEDOUT:
		set_cause(cause, "no answer from havend at %s within %ld "
		    "seconds (check the network path and firewalls between "
		    "here and there)", addr, timeout);
		break;
	case CURLE_PEER_FAILED_VERIFICATION:
		set_cause(cause, "havend at %s presented a certificate that "
		    "the site CA in %s does not vouch for: %s (if the name "
		    "does not match, add it to server_names on the "
		    "configuration server and run 'havenctl cert renew'; if "
		    "the configuration server was reinstalled, enroll this "
		    "machine again)", addr, o->ca_file ? o->ca_file : "-",
		    detail);
		break;
	case CURLE_SSL_CACERT_BADFILE:
		set_cause(cause, "cannot load the site CA certificate %s: %s "
		    "(enroll this machine again to restore it)",
		    o->ca_file ? o->ca_file : "-", detail);
		break;
	case CURLE_SSL_CERTPROBLEM:
		set_cause(cause, "cannot use the client certificate %s with "
		    "key %s: %s (enroll this machine again to restore them)",
		    o->cert_file ? o->cert_file : "-",
		    o->key_file ? o->key_file : "-", detail);
		break;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_GOT_NOTHING:
		if (o->cert_file != NULL)
			set_cause(cause, "the connection to havend at %s "
			    "failed: %s (if this machine was revoked on the "
			    "configuration server, enroll it again; otherwise "
			    "check that %s is havend's control port)", addr,
			    detail, addr);
		else
			set_cause(cause, "the connection to havend at %s "
			    "failed: %s (check that %s is havend's control "
			    "port)", addr, detail, addr);
		break;
	default:
		set_cause(cause, "request to havend at %s failed: %s", addr,
		    detail);
		break;
	}
}

static void
httpc_setup(CURL *c, const struct httpc_opts *o, const char *url,
    long timeout)
{
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, timeout);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT,
	    timeout < 10 ? timeout : 10L);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "haven/" HAVEN_VERSION);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(c, CURLOPT_PROTOCOLS,
	    (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	if (o->unix_socket != NULL)
		curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, o->unix_socket);
	if (o->ca_file != NULL) {
		curl_easy_setopt(c, CURLOPT_CAINFO, o->ca_file);
		curl_easy_setopt(c, CURLOPT_CAPATH, NULL);
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	} else {
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (o->cert_file != NULL) {
		curl_easy_setopt(c, CURLOPT_SSLCERT, o->cert_file);
		curl_easy_setopt(c, CURLOPT_SSLCERTTYPE, "PEM");
	}
	if (o->key_file != NULL) {
		curl_easy_setopt(c, CURLOPT_SSLKEY, o->key_file);
		curl_easy_setopt(c, CURLOPT_SSLKEYTYPE, "PEM");
	}
	curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
}

int
httpc_json(const struct httpc_opts *o, const char *method, const char *path,
    json_t *body, long *status, json_t **answer, char **cause)
{
	CURL			*c;
	CURLcode		 rc;
	struct curl_slist	*hdrs = NULL;
	struct httpc_sink	 sink;
	char			 errbuf[CURL_ERROR_SIZE] = "";
	char			*url, *text = NULL;
	json_error_t		 jerr;
	long			 timeout, code = 0, oserr = 0;
	int			 ret = -1;

	*answer = NULL;
	*status = 0;
	httpc_global_init();
	timeout = o->timeout_s > 0 ? o->timeout_s : HTTPC_TIMEOUT;
	url = xasprintf("%s%s", o->unix_socket != NULL ? "http://localhost" :
	    o->base_url, path);
	if ((c = curl_easy_init()) == NULL)
		fatalx("curl_easy_init failed");
	fbuf_init(&sink.buf);
	sink.too_big = 0;
	httpc_setup(c, o, url, timeout);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, httpc_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);

	hdrs = curl_slist_append(hdrs, "Accept: application/json");
	hdrs = curl_slist_append(hdrs, "Expect:");
	if (body != NULL) {
		if ((text = json_dumps(body, JSON_COMPACT)) == NULL)
			fatalx("json_dumps failed");
		hdrs = curl_slist_append(hdrs,
		    "Content-Type: application/json");
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	if (strcmp(method, "GET") == 0 && body == NULL)
		curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
	else {
		if (strcmp(method, "POST") != 0)
			curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
		/* Without POSTFIELDS curl would read the body from stdin. */
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, text ? text : "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE,
		    (long)(text ? strlen(text) : 0));
	}

	rc = curl_easy_perform(c);
	if (rc != CURLE_OK) {
		curl_easy_getinfo(c, CURLINFO_OS_ERRNO, &oserr);
		if (sink.too_big)
			set_cause(cause, "havend at %s answered with more than "
			    "%d bytes; refusing it", httpc_addr(o),
			    HTTPC_MAX_ANSWER);
		else if (o->unix_socket != NULL)
			httpc_unix_fail(o, rc, (int)oserr,
			    errbuf[0] ? errbuf : curl_easy_strerror(rc),
			    timeout, cause);
		else
			httpc_tcp_fail(o, rc, (int)oserr,
			    errbuf[0] ? errbuf : curl_easy_strerror(rc),
			    timeout, cause);
		goto out;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	*status = code;
	if (sink.buf.len == 0) {
		*answer = json_object();
		ret = 0;
		goto out;
	}
	*answer = json_loadb((const char *)sink.buf.data, sink.buf.len, 0,
	    &jerr);
	if (*answer == NULL) {
		set_cause(cause, "%s at %s answered HTTP %ld with something "
		    "that is not JSON (%s): is that address really havend?",
		    o->unix_socket ? "the socket" : "the server",
		    httpc_addr(o), code, jerr.text);
		goto out;
	}
	ret = 0;
out:
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(c);
	fbuf_free(&sink.buf);
	free(text);
	free(url);
	return ret;
}

int
httpc_call(const struct httpc_opts *o, const char *method, const char *path,
    json_t *body, long *status, json_t **answer, char **cause)
{
	const char	*msg;
	long		 code;

	if (httpc_json(o, method, path, body, &code, answer, cause) == -1) {
		if (status != NULL)
			*status = 0;
		return -1;
	}
	if (status != NULL)
		*status = code;
	if (code >= 200 && code < 300)
		return 0;
	if ((msg = httpc_error_message(*answer)) != NULL)
		set_cause(cause, "%s", msg);
	else
		set_cause(cause, "havend at %s answered %s %s with HTTP %ld "
		    "and no error message (check 'journalctl -u havend' "
		    "there)", httpc_addr(o), method, path, code);
	json_decref(*answer);
	*answer = NULL;
	return -1;
}

const char *
httpc_error_message(json_t *answer)
{
	json_t	*m;

	m = json_object_get(json_object_get(answer, "error"), "message");
	return json_is_string(m) ? json_string_value(m) : NULL;
}
