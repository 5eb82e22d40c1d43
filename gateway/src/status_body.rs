//! Learning how a call ended: its `grpc-status`, from the headers of a trailers-only
//! response or from the trailers at the end of the body; `CANCELLED` when the body is
//! dropped first (the client went away).

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use http::{HeaderMap, Response};
use http_body::{Frame, SizeHint};
use tonic::Code;
use tonic::body::Body;

/// Calls `on_end` exactly once with the call's final code.
pub(crate) struct StatusWatch<F: FnOnce(Code)> {
    on_end: Option<F>,
}

impl<F: FnOnce(Code) + Send + 'static> StatusWatch<F> {
    pub fn new(on_end: F) -> Self {
        Self {
            on_end: Some(on_end),
        }
    }

    pub fn observe(mut self, response: Response<Body>) -> Response<Body> {
        if let Some(code) = code_of(response.headers()) {
            self.end(code);
            return response;
        }
        response.map(|inner| Body::new(Watched { inner, watch: self }))
    }

    fn end(&mut self, code: Code) {
        if let Some(on_end) = self.on_end.take() {
            on_end(code);
        }
    }
}

impl<F: FnOnce(Code)> Drop for StatusWatch<F> {
    fn drop(&mut self) {
        if let Some(on_end) = self.on_end.take() {
            on_end(Code::Cancelled);
        }
    }
}

/// The `grpc-status` in `headers` (trailers-only responses, or trailers).
pub(crate) fn code_of(headers: &HeaderMap) -> Option<Code> {
    let value = headers.get("grpc-status")?;
    Some(
        value
            .to_str()
            .ok()
            .and_then(|v| v.parse::<i32>().ok())
            .map_or(Code::Unknown, Code::from_i32),
    )
}

pin_project_lite::pin_project! {
    struct Watched<F: FnOnce(Code)> {
        #[pin]
        inner: Body,
        watch: StatusWatch<F>,
    }
}

impl<F: FnOnce(Code) + Send + 'static> http_body::Body for Watched<F> {
    type Data = bytes::Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        let frame = ready!(this.inner.poll_frame(cx));
        match &frame {
            Some(Ok(frame)) => {
                if let Some(code) = frame.trailers_ref().and_then(code_of) {
                    this.watch.end(code);
                }
            }
            Some(Err(_)) => this.watch.end(Code::Internal),
            None => this.watch.end(Code::Unknown),
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
