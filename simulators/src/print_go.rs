//! A print-go over Modbus TCP: a tiny Modbus server beside a simulated marker whose coil 0 is
//! the marker's product-detect input, as a line PLC or a remote I/O module drives it. Writing
//! coil 0 ON (FC 05, Modbus Application Protocol V1.1b3 §6.5) is one print-go; the coil reads
//! back OFF, because the marker acts on the edge, not the level. Any unit id is answered.

use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpStream};
use tokio_modbus::server::Service;
use tokio_modbus::{ExceptionCode, Request, Response, SlaveRequest};
use tracing::{debug, info};

use crate::marker::MarkerSim;

/// The coil that gives a print-go.
pub const PRINT_GO_COIL: u16 = 0;

/// Serves the print-go coil of `sim` on `listener`, any number of connections at once, until an
/// accept fails.
pub async fn serve_print_go<M: MarkerSim>(sim: M, listener: TcpListener) -> std::io::Result<()> {
    let server = tokio_modbus::server::tcp::Server::new(listener);
    let on_connected = |stream: TcpStream, peer: SocketAddr| {
        let sim = sim.clone();
        async move {
            info!(%peer, sim = M::NAME, "print-go client connected");
            Ok(Some((PrintGo { sim }, stream)))
        }
    };
    let on_process_error = |error: std::io::Error| debug!(%error, "print-go connection ended");
    server.serve(&on_connected, on_process_error).await
}

#[derive(Debug)]
struct PrintGo<M> {
    sim: M,
}

impl<M: MarkerSim> PrintGo<M> {
    fn answer(&self, request: Request<'static>) -> Result<Response, ExceptionCode> {
        match request {
            Request::WriteSingleCoil(PRINT_GO_COIL, on) => {
                if on {
                    let outcome = self.sim.trigger();
                    debug!(?outcome, sim = M::NAME, "print-go over Modbus");
                }
                Ok(Response::WriteSingleCoil(PRINT_GO_COIL, on))
            }
            Request::ReadCoils(PRINT_GO_COIL, 1) => Ok(Response::ReadCoils(vec![false])),
            Request::WriteSingleCoil(..) | Request::ReadCoils(..) => {
                Err(ExceptionCode::IllegalDataAddress)
            }
            _ => Err(ExceptionCode::IllegalFunction),
        }
    }
}

impl<M: MarkerSim> Service for PrintGo<M> {
    type Request = SlaveRequest<'static>;
    type Response = Response;
    type Exception = ExceptionCode;
    type Future = std::future::Ready<Result<Response, ExceptionCode>>;

    fn call(&self, request: Self::Request) -> Self::Future {
        std::future::ready(self.answer(request.request))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::zipher::ZipherSim;

    #[test]
    fn coil_0_on_is_one_print_go_and_everything_else_is_refused() {
        let sim = ZipherSim::new(4);
        let go = PrintGo { sim: sim.clone() };
        assert_eq!(
            go.answer(Request::WriteSingleCoil(0, true)),
            Ok(Response::WriteSingleCoil(0, true))
        );
        // Not printing: the print-go reached the simulator, which ignored it.
        assert_eq!(sim.snapshot().print_gos(), 0);
        assert_eq!(
            go.answer(Request::WriteSingleCoil(0, false)),
            Ok(Response::WriteSingleCoil(0, false))
        );
        assert_eq!(
            go.answer(Request::ReadCoils(0, 1)),
            Ok(Response::ReadCoils(vec![false]))
        );
        assert_eq!(
            go.answer(Request::WriteSingleCoil(1, true)),
            Err(ExceptionCode::IllegalDataAddress)
        );
        assert_eq!(
            go.answer(Request::ReadHoldingRegisters(0, 1)),
            Err(ExceptionCode::IllegalFunction)
        );
    }
}
