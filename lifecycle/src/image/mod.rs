//! Images: references, the image model, and the stores images are read from and written to.

pub mod config;
pub mod daemon_store;
pub mod layer_stream;
pub mod layout;
pub mod model;
pub mod oci;
pub mod reference;
pub mod registry_store;
pub mod saving;
pub mod store;

pub use config::{ContainerConfig, History, ImageConfig};
pub use layer_stream::LayerStream;
pub use model::{Image, Layer, LayerData, NORMALIZED_TIME, Origin, Saved};
pub use store::{ImageStore, LayerFormat, StoreError, StoredImage};
