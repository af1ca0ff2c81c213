//! Lists in pages (the API's lists are paginated: a plant keeps years of batches and millions
//! of codes).

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::AppError;

/// The most items a page holds.
pub const MAX_PER_PAGE: u32 = 500;
/// Items per page when none is asked for.
pub const DEFAULT_PER_PAGE: u32 = 50;

/// One page of a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Page<T> {
    /// The items of this page.
    pub items: Vec<T>,
    /// This page's number, from 1.
    pub page: u32,
    /// Items per page.
    pub per_page: u32,
    /// Items in the whole list.
    pub total: u64,
}

/// Which page to read: `page` from 1 (default 1), `per_page` 1 to [`MAX_PER_PAGE`] (default
/// [`DEFAULT_PER_PAGE`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageRequest {
    /// The page's number, from 1.
    pub page: Option<u32>,
    /// Items per page, 1 to 500.
    pub per_page: Option<u32>,
}

impl PageRequest {
    /// The page number and size, checked.
    pub fn checked(self) -> Result<(u32, u32), AppError> {
        let page = self.page.unwrap_or(1);
        let per_page = self.per_page.unwrap_or(DEFAULT_PER_PAGE);
        if page == 0 {
            return Err(AppError::input("page", "pages are numbered from 1"));
        }
        if per_page == 0 || per_page > MAX_PER_PAGE {
            return Err(AppError::input(
                "per_page",
                format!("{per_page} is not between 1 and {MAX_PER_PAGE}"),
            ));
        }
        Ok((page, per_page))
    }

    /// Where the page starts and how many items it holds, for a store that reads one page.
    pub fn offset_limit(self) -> Result<(i64, i64), AppError> {
        let (page, per_page) = self.checked()?;
        let offset = i64::from(page - 1) * i64::from(per_page);
        Ok((offset, i64::from(per_page)))
    }

    /// The page made of `items`, read from the store with [`PageRequest::offset_limit`], of a
    /// list of `total`.
    pub fn of<T>(self, items: Vec<T>, total: i64) -> Result<Page<T>, AppError> {
        let (page, per_page) = self.checked()?;
        Ok(Page {
            items,
            page,
            per_page,
            total: u64::try_from(total).unwrap_or(0),
        })
    }

    /// The page of `all` this request asks for (a page past the end is empty).
    pub fn slice<T>(self, all: Vec<T>) -> Result<Page<T>, AppError> {
        let (page, per_page) = self.checked()?;
        let total = all.len() as u64;
        let skip = usize::try_from(u64::from(page - 1) * u64::from(per_page)).unwrap_or(usize::MAX);
        let items = all.into_iter().skip(skip).take(per_page as usize).collect();
        Ok(Page {
            items,
            page,
            per_page,
            total,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_are_cut_from_one_and_past_the_end_is_empty() {
        let request = |page, per_page| PageRequest {
            page: Some(page),
            per_page: Some(per_page),
        };
        let page = request(2, 3).slice((1..=7).collect()).expect("a page");
        assert_eq!(page.items, [4, 5, 6]);
        assert_eq!(page.total, 7);
        assert!(
            request(4, 3)
                .slice((1..=7).collect())
                .expect("a page")
                .items
                .is_empty()
        );
        assert_eq!(
            PageRequest::default()
                .slice(vec![1])
                .expect("a page")
                .per_page,
            DEFAULT_PER_PAGE
        );
        for (page, per_page, field) in [(0, 10, "page"), (1, 0, "per_page"), (1, 501, "per_page")] {
            match request(page, per_page).slice(vec![1]) {
                Err(AppError::Input { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{page}/{per_page}: {other:?}"),
            }
        }
    }
}
