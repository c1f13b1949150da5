//! placeholder
#[derive(clap::Args, Debug)]
pub struct Args {}
pub async fn run(_: Args) -> crate::util::Result<()> {
    Ok(())
}
