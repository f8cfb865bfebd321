/*
 * The console API of seed 004: GET {console-api}/{target} with an API
 * key as a bearer token answers a one-time console token and the
 * WebSocket path to use it on.  authd checks the key and signs; the worker
 * only carries the question and formats the answer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "log.h"
#include "proc.h"
#include "worker.h"

/* Is this path an API token request?  Returns the target segment. */
const char *
api_match(const char *path)
{
	const char	*api = ps->conf->g.console_api;
	size_t		 n = strlen(api);
	const char	*rest;

	if (n == 0 || strncmp(path, api, n) != 0 || path[n] != '/')
		return NULL;
	rest = path + n + 1;
	if (*rest == '\0' || strchr(rest, '/') != NULL ||
	    strcmp(rest, "ws") == 0)
		return NULL;
	return rest;
}

void
api_request(struct conn *c, const char *segment)
{
	struct api_req	 q;
	const char	*auth = http_get(&c->req, "Authorization");
	const char	*xff = http_get(&c->req, "X-Forwarded-For");

	memset(&q, 0, sizeof(q));
	if (route_decode(segment, q.target, sizeof(q.target)) == -1) {
		server_error_json(c, 404, ERR_VM_NOT_FOUND);
		return;
	}
	q.session = c->id;
	strlcpy_(q.peer, c->peer, sizeof(q.peer));
	if (xff)
		strlcpy_(q.xff, xff, sizeof(q.xff));
	if (auth && strncasecmp(auth, "Bearer ", 7) == 0 &&
	    strlen(auth + 7) < sizeof(q.key))
		strlcpy_(q.key, auth + 7, sizeof(q.key));
	conn_forget_head(c);
	c->state = CONN_AUTH;
	c->api = 1;
	bufferevent_disable(c->bev, EV_READ);
	if (worker->authd == NULL || ipc_send(worker->authd, IMSG_API_REQ, 0,
	    -1, &q, sizeof(q)) == -1) {
		explicit_bzero(&q, sizeof(q));
		server_error_json(c, 503, ERR_INTERNAL_ERROR);
		return;
	}
	explicit_bzero(&q, sizeof(q));
	evtimer_add(c->timer, (&(struct timeval){ 10, 0 }));
}

void
api_verdict(struct conn *c, struct api_resp *r)
{
	char		 body[TOKEN_MAXLEN + 512], when[RFC3339_LEN];
	int		 n;

	evtimer_del(c->timer);
	if (r->code != ERR_NONE) {
		server_error_json(c, r->code == ERR_UNAUTHORIZED ? 401 :
		    err_status(r->code), r->code);
		return;
	}
	time_rfc3339((time_t)r->expires, when);
	n = snprintf(body, sizeof(body), "{\"type\":\"%s\",\"token\":\"%s\","
	    "\"ws_path\":\"%s/ws\",\"expires_at\":\"%s\",\"tls_enabled\":%s%s}\n",
	    r->type[0] ? r->type : "vnc", r->token, ps->conf->g.console_api,
	    when, c->tls ? "true" : "false",
	    r->has_password ? ",\"password\":\"********\"" : "");
	server_respond(c, 200, "application/json", "Cache-Control: no-store\r\n",
	    body, n, 0);
	explicit_bzero(body, sizeof(body));
}
