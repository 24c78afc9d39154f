//! Outbound HTTP: allow-list on scheme/host/port, a resolved-address check that refuses
//! loopback, private, link-local and metadata ranges unless the operator allows them,
//! redirects re-checked hop by hop, response size and time capped, media bodies streamed
//! from object storage.

use crate::runtime::grants::HostRefusal;
use crate::runtime::state::HostState;
use futures::StreamExt;
use ipnet::IpNet;
use plugboard_bindings::platform::plugboard::plugin::http::{
    self as wit, Body, HttpError, Method, PartBody, Request, Response, StreamingResponse,
};
use plugboard_bindings::{BodyChunks, BodyStream};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use wasmtime::component::Resource;

/// Refuses addresses a plugin must not reach unless the operator allowed their range.
#[derive(Debug, Clone, Default)]
pub struct IpPolicy {
    pub allowed: Vec<IpNet>,
}

impl IpPolicy {
    pub fn allows(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        if self.allowed.iter().any(|net| net.contains(&ip)) {
            return true;
        }
        !is_internal(ip)
    }
}

/// Loopback, private, link-local (cloud metadata at 169.254.169.254 included), shared
/// carrier-grade NAT, unspecified, multicast, broadcast and documentation ranges.
fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_multicast()
                || v4.is_broadcast()
                || v4.is_documentation()
                || o[0] == 0
                || (o[0] == 100 && (64..128).contains(&o[1]))
                || o[0] >= 240
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("resolves to {ip}, an internal address plugins may not reach")]
struct AddressRefused {
    ip: IpAddr,
}

/// DNS resolution that drops refused addresses, so the connection can only go where the
/// check allowed (no rebinding between check and connect).
struct GuardedResolver {
    policy: Arc<IpPolicy>,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.policy.clone();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((name.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = addrs
                .iter()
                .copied()
                .filter(|a| policy.allows(a.ip()))
                .collect();
            if allowed.is_empty() {
                let ip = addrs
                    .first()
                    .map(|a| a.ip())
                    .unwrap_or(IpAddr::from([0, 0, 0, 0]));
                return Err(
                    Box::new(AddressRefused { ip }) as Box<dyn std::error::Error + Send + Sync>
                );
            }
            Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// The shared client (connection pool) of all plugins.
pub struct HttpService {
    client: reqwest::Client,
    policy: Arc<IpPolicy>,
    /// Requests sent, for `requests`-type rate rules.
    pub ledger: super::ledger::RequestLedger,
}

impl HttpService {
    pub fn new(policy: IpPolicy) -> anyhow::Result<HttpService> {
        let policy = Arc::new(policy);
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(Arc::new(GuardedResolver {
                policy: policy.clone(),
            }))
            .no_proxy()
            .user_agent(concat!("plugboard/", env!("CARGO_PKG_VERSION")))
            .pool_idle_timeout(Duration::from_secs(30))
            .build()?;
        Ok(HttpService {
            client,
            policy,
            ledger: Default::default(),
        })
    }

    /// The guarded client, for the host's own outbound requests (webhook deliveries): host
    /// names resolve only to allowed addresses.
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// Refuses URLs whose host is an internal IP literal (names are checked when resolved).
    pub fn check_literal(&self, url: &url::Url) -> Result<(), String> {
        let ip = match url.host() {
            Some(url::Host::Ipv4(v4)) => IpAddr::V4(v4),
            Some(url::Host::Ipv6(v6)) => IpAddr::V6(v6),
            _ => return Ok(()),
        };
        if self.policy.allows(ip) {
            Ok(())
        } else {
            Err(format!("{ip} is an internal address"))
        }
    }
}

const FORBIDDEN_HEADERS: &[&str] = &[
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "upgrade",
    "te",
    "trailer",
];
const MAX_REDIRECTS: usize = 5;

impl HostState {
    fn check_target(&self, url: &url::Url) -> Result<(), HttpError> {
        if let Err(refusal) = self.effective.check_url(url) {
            let origin = origin_of(url);
            let msg = match refusal {
                HostRefusal::NotDeclared => format!(
                    "{} may not reach {origin}: its manifest does not declare this host (the plugin author must add it to `hosts`)",
                    self.who()
                ),
                HostRefusal::NotGranted => format!(
                    "{} may not reach {origin}: the operator has not granted it (granted: [{}]). Grant it with `plugboard plugin grant {} --host {origin}`",
                    self.who(),
                    self.effective.granted_host_text.join(", "),
                    self.info.plugin
                ),
            };
            return Err(HttpError::Denied(msg));
        }
        if let Some(host) = url.host() {
            let ip = match host {
                url::Host::Ipv4(v4) => Some(IpAddr::V4(v4)),
                url::Host::Ipv6(v6) => Some(IpAddr::V6(v6)),
                url::Host::Domain(_) => None,
            };
            if let Some(ip) = ip
                && !self.services.http.policy.allows(ip)
            {
                return Err(self.address_refused(url, ip));
            }
        }
        Ok(())
    }

    fn address_refused(&self, url: &url::Url, ip: IpAddr) -> HttpError {
        HttpError::Denied(format!(
            "{} may not reach {}: it is the internal address {ip} (loopback, private, link-local or metadata). An operator can allow a range with `http.allow-ranges` in the server configuration",
            self.who(),
            origin_of(url)
        ))
    }

    async fn build_body(
        &mut self,
        body: &Body,
    ) -> Result<(Option<reqwest::Body>, Option<String>), HttpError> {
        Ok(match body {
            Body::Empty => (None, None),
            Body::Bytes(b) => (Some(reqwest::Body::from(b.clone())), None),
            Body::Media(m) => {
                let stream = self
                    .media()
                    .open_range(&self.services.media, &m.handle, m.offset, m.length)
                    .await
                    .map_err(HttpError::InvalidRequest)?;
                (Some(stream), None)
            }
            Body::Multipart(parts) => {
                let mut form = reqwest::multipart::Form::new();
                for part in parts {
                    let mut p = match &part.body {
                        PartBody::Text(t) => reqwest::multipart::Part::text(t.clone()),
                        PartBody::Bytes(b) => reqwest::multipart::Part::bytes(b.clone()),
                        PartBody::Media(m) => {
                            let len = self
                                .media()
                                .range_len(&m.handle, m.offset, m.length)
                                .map_err(HttpError::InvalidRequest)?;
                            let body = self
                                .media()
                                .open_range(&self.services.media, &m.handle, m.offset, m.length)
                                .await
                                .map_err(HttpError::InvalidRequest)?;
                            reqwest::multipart::Part::stream_with_length(body, len)
                        }
                    };
                    if let Some(f) = &part.filename {
                        p = p.file_name(f.clone());
                    }
                    if let Some(ct) = &part.content_type {
                        p = p.mime_str(ct).map_err(|e| {
                            HttpError::InvalidRequest(format!("content type {ct}: {e}"))
                        })?;
                    }
                    form = form.part(part.name.clone(), p);
                }
                let ct = format!("multipart/form-data; boundary={}", form.boundary());
                (
                    Some(reqwest::Body::wrap_stream(form.into_stream())),
                    Some(ct),
                )
            }
        })
    }

    /// Sends `req`, following redirects if asked, each hop checked again.
    async fn execute(&mut self, req: &Request) -> Result<reqwest::Response, HttpError> {
        self.counters.http_requests += 1;
        if self.counters.http_requests > self.limits.http_requests {
            return Err(HttpError::Denied(format!(
                "{} exceeded its limit of {} HTTP requests per call",
                self.who(),
                self.limits.http_requests
            )));
        }
        let mut url = url::Url::parse(&req.url)
            .map_err(|e| HttpError::InvalidRequest(format!("invalid URL {}: {e}", req.url)))?;
        let mut method = to_method(req.method);
        let mut keep_body = true;
        let timeout = Duration::from_millis(
            req.timeout_ms
                .map(u64::from)
                .unwrap_or(self.limits.http_timeout_ms)
                .min(self.limits.http_timeout_ms),
        );
        for name in req.headers.iter().map(|(n, _)| n.to_ascii_lowercase()) {
            if FORBIDDEN_HEADERS.contains(&name.as_str()) {
                return Err(HttpError::InvalidRequest(format!(
                    "the `{name}` header is set by the host"
                )));
            }
        }
        for _hop in 0..=MAX_REDIRECTS {
            self.check_target(&url)?;
            self.services.http.ledger.record(
                &self.info.plugin,
                self.ctx.account.as_ref().map(|a| a.id.as_str()),
                crate::jobs::now_ms(),
            );
            let mut builder = self
                .services
                .http
                .client
                .request(method.clone(), url.clone())
                .timeout(timeout);
            for (n, v) in &req.headers {
                builder = builder.header(n, v);
            }
            if keep_body {
                let (body, content_type) = self.build_body(&req.body).await?;
                if let Some(ct) = content_type {
                    builder = builder.header(reqwest::header::CONTENT_TYPE, ct);
                }
                if let Some(body) = body {
                    builder = builder.body(body);
                }
            }
            let resp = builder
                .send()
                .await
                .map_err(|e| self.map_send_error(&url, e))?;
            let status = resp.status();
            if !req.follow_redirects || !status.is_redirection() {
                return Ok(resp);
            }
            let Some(location) = resp.headers().get(reqwest::header::LOCATION) else {
                return Ok(resp);
            };
            let location = location
                .to_str()
                .ok()
                .and_then(|l| url.join(l).ok())
                .ok_or_else(|| {
                    HttpError::Connection("redirect with an unreadable Location".into())
                })?;
            // 303, and 301/302 after a POST, turn into a body-less GET, as browsers do.
            if status == reqwest::StatusCode::SEE_OTHER
                || (method == reqwest::Method::POST && matches!(status.as_u16(), 301 | 302))
            {
                method = reqwest::Method::GET;
                keep_body = false;
            }
            url = location;
        }
        Err(HttpError::Connection(format!(
            "more than {MAX_REDIRECTS} redirects"
        )))
    }

    fn map_send_error(&self, url: &url::Url, e: reqwest::Error) -> HttpError {
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
        while let Some(err) = source {
            if let Some(refused) = err.downcast_ref::<AddressRefused>() {
                return self.address_refused(url, refused.ip);
            }
            source = err.source();
        }
        if e.is_timeout() {
            HttpError::Timeout
        } else {
            HttpError::Connection(format!("{}: {}", origin_of(url), error_chain(&e)))
        }
    }

    async fn send_inner(&mut self, req: Request) -> Result<Response, HttpError> {
        let resp = self.execute(&req).await?;
        let status = resp.status().as_u16();
        let headers = headers_of(&resp);
        let cap = self.limits.http_response_bytes;
        if resp.content_length().is_some_and(|len| len > cap) {
            return Err(HttpError::TooLarge(cap));
        }
        let mut body = Vec::new();
        let mut stream = resp.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| {
                if e.is_timeout() {
                    HttpError::Timeout
                } else {
                    HttpError::Connection(error_chain(&e))
                }
            })?;
            if body.len() as u64 + chunk.len() as u64 > cap {
                return Err(HttpError::TooLarge(cap));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Response {
            status,
            headers,
            body,
        })
    }
}

fn to_method(m: Method) -> reqwest::Method {
    match m {
        Method::Get => reqwest::Method::GET,
        Method::Head => reqwest::Method::HEAD,
        Method::Post => reqwest::Method::POST,
        Method::Put => reqwest::Method::PUT,
        Method::Patch => reqwest::Method::PATCH,
        Method::Delete => reqwest::Method::DELETE,
        Method::Options => reqwest::Method::OPTIONS,
    }
}

fn origin_of(url: &url::Url) -> String {
    format!(
        "{}://{}:{}",
        url.scheme(),
        url.host_str().unwrap_or(""),
        url.port_or_known_default().unwrap_or(0)
    )
}

fn headers_of(resp: &reqwest::Response) -> Vec<(String, String)> {
    resp.headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect()
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// A response body handed to the guest chunk by chunk, each chunk within the size cap.
struct ResponseChunks {
    stream: futures::stream::BoxStream<'static, reqwest::Result<bytes::Bytes>>,
    read: u64,
    cap: u64,
}

impl BodyChunks for ResponseChunks {
    fn next_chunk(&mut self) -> plugboard_bindings::NextChunk<'_> {
        Box::pin(async move {
            match self.stream.next().await {
                None => Ok(None),
                Some(Err(e)) => Err(error_chain(&e)),
                Some(Ok(chunk)) => {
                    self.read += chunk.len() as u64;
                    if self.read > self.cap {
                        return Err(format!("response exceeded {} bytes", self.cap));
                    }
                    Ok(Some(chunk.to_vec()))
                }
            }
        })
    }
}

impl wit::Host for HostState {
    async fn send(&mut self, req: Request) -> wasmtime::Result<Result<Response, HttpError>> {
        Ok(self.in_host(async |s| s.send_inner(req).await).await)
    }

    async fn open(
        &mut self,
        req: Request,
    ) -> wasmtime::Result<Result<(StreamingResponse, Resource<BodyStream>), HttpError>> {
        if self.counters.open_resources >= self.limits.resources {
            return Ok(Err(HttpError::Denied(format!(
                "{} has {} open response streams, its limit; drop one first",
                self.who(),
                self.limits.resources
            ))));
        }
        let resp = match self.in_host(async |s| s.execute(&req).await).await {
            Ok(r) => r,
            Err(e) => return Ok(Err(e)),
        };
        let head = StreamingResponse {
            status: resp.status().as_u16(),
            headers: headers_of(&resp),
        };
        let chunks = ResponseChunks {
            stream: resp.bytes_stream().boxed(),
            read: 0,
            // A stream is meant for long bodies (SSE, downloads), so it gets a larger cap
            // than a buffered response, yet still one.
            cap: self.limits.http_response_bytes.saturating_mul(64),
        };
        let handle = self.table.push(BodyStream {
            inner: Box::new(chunks),
        })?;
        self.counters.open_resources += 1;
        Ok(Ok((head, handle)))
    }
}

impl wit::HostBodyStream for HostState {
    async fn next(
        &mut self,
        stream: Resource<BodyStream>,
    ) -> wasmtime::Result<Result<Option<Vec<u8>>, HttpError>> {
        self.in_host(async |s| {
            let entry = s.table.get_mut(&stream)?;
            Ok(entry
                .inner
                .next_chunk()
                .await
                .map_err(HttpError::Connection))
        })
        .await
    }

    async fn drop(&mut self, stream: Resource<BodyStream>) -> wasmtime::Result<()> {
        self.table.delete(stream)?;
        self.counters.open_resources = self.counters.open_resources.saturating_sub(1);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_ranges_are_refused_by_default() {
        let p = IpPolicy::default();
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.20.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(!p.allows(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["93.184.216.34", "2606:2800:220:1::1"] {
            assert!(p.allows(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn operator_ranges_open_only_themselves() {
        let p = IpPolicy {
            allowed: vec!["127.0.0.1/32".parse().unwrap()],
        };
        assert!(p.allows("127.0.0.1".parse().unwrap()));
        assert!(!p.allows("127.0.0.2".parse().unwrap()));
        assert!(!p.allows("169.254.169.254".parse().unwrap()));
    }
}
